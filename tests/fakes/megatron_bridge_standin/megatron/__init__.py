# STAND-IN, not Megatron: see tests/fakes/megatron_bridge_standin/README.md.

# STAND-IN, not Megatron Bridge: see tests/fakes/megatron_bridge_standin/README.md.

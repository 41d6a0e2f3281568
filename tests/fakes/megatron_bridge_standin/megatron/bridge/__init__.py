"""STAND-IN for megatron.bridge, not the real package; it only records what it is given.

See tests/fakes/megatron_bridge_standin/README.md. Offers AutoBridge.from_hf_pretrained(path)
.to_megatron_provider(load_weights=...), which returns a provider object that remembers the
path and shows a DeepSeek-V2-Lite-like shape (27 layers, 64 routed experts)."""

STANDIN = True

# Every call the code under test makes into the stand-in, in order; pretrain() writes it out.
CALLS = []


class Record:
    """A bag of attributes, standing in for Megatron Bridge's config dataclasses."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


class StandInModelProvider(Record):
    """Stands in for the GPTModelProvider subclass AutoBridge returns for DeepSeek-V2-Lite."""


class AutoBridge:
    def __init__(self, path, kwargs):
        self.path = path
        self.kwargs = kwargs

    @classmethod
    def from_hf_pretrained(cls, path, **kwargs):
        CALLS.append({"call": "AutoBridge.from_hf_pretrained", "path": str(path),
                      "kwargs": {k: repr(v) for k, v in kwargs.items()}})
        return cls(str(path), kwargs)

    def to_megatron_provider(self, load_weights=True):
        CALLS.append({"call": "AutoBridge.to_megatron_provider", "path": self.path,
                      "load_weights": load_weights})
        # architecture as read from the HF config, and a provider's run defaults
        return StandInModelProvider(
            standin_hf_path=self.path, standin_load_weights=load_weights,
            num_layers=27, hidden_size=2048, num_moe_experts=64, rotary_base=10000,
            tensor_model_parallel_size=1, pipeline_model_parallel_size=1, pipeline_dtype=None,
            context_parallel_size=1, expert_model_parallel_size=1,
            expert_tensor_parallel_size=None, sequence_parallel=False, seq_length=4096,
            moe_token_dispatcher_type="allgather", moe_permute_fusion=False,
            moe_grouped_gemm=False, transformer_impl="local", recompute_granularity=None,
            recompute_method=None, recompute_num_layers=None)

"""STAND-IN for megatron.bridge.recipes.deepseek: a recipe that only records its call.

The returned container has the fields the example sets, filled with recipe-like defaults
that differ from anything the example's flags produce, so a test sees which ones changed.
STANDIN_RECIPE_FORM=noargs (default) or kwargs picks the shape, see the README."""

import os

from megatron.bridge import CALLS, AutoBridge, Record

HUB_ID = "deepseek-ai/DeepSeek-V2-Lite"


def _container(hf_path, newer):
    model = AutoBridge.from_hf_pretrained(hf_path).to_megatron_provider(load_weights=False)
    # what the recipe tunes on the provider
    model.expert_model_parallel_size = 8
    model.moe_token_dispatcher_type = "alltoall"
    model.moe_permute_fusion = True
    model.moe_grouped_gemm = True
    model.transformer_impl = "transformer_engine"
    model.recompute_granularity, model.recompute_method, model.recompute_num_layers = (
        "full", "uniform", 1)
    train = Record(train_iters=1_000_000, global_batch_size=512, micro_batch_size=1)
    dataset = Record(sequence_length=4096, blend=None, blend_per_split=None, split="1,1,1",
                     num_workers=8)
    fields = dict(
        model=model, train=train, dataset=dataset,
        optimizer=Record(lr=3e-4, min_lr=3e-5),
        scheduler=Record(lr_warmup_iters=2000, lr_decay_iters=None),
        logger=Record(log_interval=10, tensorboard_dir="nemo_experiments/default/tb_logs"),
        tokenizer=Record(tokenizer_type="NullTokenizer", tokenizer_model=None, vocab_size=32000),
        checkpoint=Record(save="nemo_experiments/default/checkpoints",
                          load="nemo_experiments/default/checkpoints", save_interval=2000),
        rng=Record(seed=1234),
        dist=Record(local_rank=0, external_gpu_device_mapping=False,
                    distributed_timeout_minutes=10),
        mixed_precision="bf16_mixed")
    if newer:
        dataset.seq_length = 4096
        fields["validation"] = Record(eval_interval=2000, eval_iters=32)
    else:
        train.eval_interval, train.eval_iters = 2000, 32
    return Record(**fields)


if os.environ.get("STANDIN_RECIPE_FORM", "noargs") == "kwargs":

    def deepseek_v2_lite_pretrain_config(**user_kwargs):
        CALLS.append({"call": "deepseek_v2_lite_pretrain_config", "form": "kwargs",
                      "kwargs": {k: repr(v) for k, v in user_kwargs.items()}})
        return _container(user_kwargs.get("hf_path", HUB_ID), newer=False)

else:

    def deepseek_v2_lite_pretrain_config():
        CALLS.append({"call": "deepseek_v2_lite_pretrain_config", "form": "noargs"})
        return _container(HUB_ID, newer=True)

#!/usr/bin/env python3
"""DeepSeek-V2-Lite pretraining with Megatron Bridge, one process per GPU, started by rlaunch.

    srun --ntasks-per-node=1 --mpi=pmix rlaunch --gpus-per-node 8 -- \\
        python3 examples/megatron/pretrain_deepseek_v2_lite.py --mock-data --train-iters 100

There is no Ray and no launcher code in here. The process takes its place in the job from
the variables rlaunch (or torchrun) sets: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE,
MASTER_ADDR, MASTER_PORT. It never writes the environment: CUDA_VISIBLE_DEVICES, the
NCCL/libfabric (EFA) variables and the rest are rlaunch's job (`--cuda-visible-devices`,
`--net`, `--env`). Megatron Bridge reads RANK/WORLD_SIZE/MASTER_* itself when it
initialises torch.distributed; this script checks them first, so that a process started
outside a launcher fails at once with a message instead of hanging in a rendezvous.

The configuration starts from Megatron Bridge's DeepSeek-V2-Lite recipe
(megatron.bridge.recipes.deepseek.deepseek_v2_lite_pretrain_config) and the flags below
override its fields; examples/megatron/README.md lists which flag sets which field.

Exit status:
  0  training finished
  2  bad flags, an environment that is not a launcher's (run it under rlaunch), or a
     parallel layout that does not fit WORLD_SIZE
  3  torch, Megatron Core or Megatron Bridge cannot be imported (use the NeMo container)
  other: whatever Megatron fails with during training
"""

import argparse
import inspect
import os
import sys
from typing import Mapping, NamedTuple, Optional

PROG = "pretrain_deepseek_v2_lite"
EXIT_USAGE = 2
EXIT_NO_MEGATRON = 3
DEFAULT_HF_PATH = "deepseek-ai/DeepSeek-V2-Lite"
INSTALL_HINT = (
    "run it in the NeMo framework container (nvcr.io/nvidia/nemo:25.09 or later), which ships "
    "torch, Transformer Engine, Megatron Core and Megatron Bridge, or install Megatron Bridge "
    "into this Python: pip install megatron-bridge "
    "(see https://github.com/NVIDIA-NeMo/Megatron-Bridge)"
)


class UsageError(Exception):
    """A mistake in the flags, the environment or the layout (exit 2)."""


class MissingMegatron(Exception):
    """torch / Megatron Core / Megatron Bridge cannot be imported (exit 3)."""


class LaunchEnv(NamedTuple):
    """Where this process sits in the job, as the launcher described it."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    master_addr: str
    master_port: int
    # None when unset (rlaunch's default `reset` policy); read, never written
    cuda_visible_devices: Optional[str]

    def visible_gpu_count(self) -> Optional[int]:
        return _gpu_count(self.cuda_visible_devices)


def _gpu_count(cuda_visible_devices: Optional[str]) -> Optional[int]:
    """How many GPUs CUDA_VISIBLE_DEVICES lists; None when it is unset (all are visible)."""
    if cuda_visible_devices is None:
        return None
    return len([d for d in cuda_visible_devices.split(",") if d.strip()])


# ---------------------------------------------------------------------------------------
# flags


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must not be negative")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be positive")
    return value


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Pretrain DeepSeek-V2-Lite with Megatron Bridge; start one process per GPU "
        "with rlaunch (e.g. `rlaunch --gpus-per-node 8 -- python3 %(prog)s.py --mock-data`).",
        epilog="Exit status: 0 done, 2 bad flags/environment/layout, 3 Megatron Bridge not "
        "importable. See examples/megatron/README.md for what each flag sets.",
    )
    model = p.add_argument_group("model")
    model.add_argument("--hf-path", default=DEFAULT_HF_PATH,
                       help="Hugging Face model id or local directory whose config.json defines "
                       "the architecture (weights are not loaded: training starts from scratch) "
                       "(default: %(default)s)")

    par = p.add_argument_group("parallelism (their product must fit WORLD_SIZE)")
    par.add_argument("--tensor-parallel-size", "--tp", type=_positive_int, metavar="N", default=1,
                     help="model.tensor_model_parallel_size (default: %(default)s)")
    par.add_argument("--pipeline-parallel-size", "--pp", type=_positive_int, metavar="N", default=1,
                     help="model.pipeline_model_parallel_size (default: %(default)s)")
    par.add_argument("--context-parallel-size", "--cp", type=_positive_int, metavar="N", default=1,
                     help="model.context_parallel_size (default: %(default)s)")
    par.add_argument("--expert-parallel-size", "--ep", type=_positive_int, metavar="N", default=8,
                     help="model.expert_model_parallel_size; must divide the 64 routed experts "
                     "(default: %(default)s, the recipe's)")
    par.add_argument("--expert-tensor-parallel-size", "--etp", type=_positive_int, metavar="N",
                     default=None,
                     help="model.expert_tensor_parallel_size (default: same as "
                     "--tensor-parallel-size)")
    par.add_argument("--sequence-parallel", action="store_true",
                     help="model.sequence_parallel (useful with --tensor-parallel-size > 1)")
    par.add_argument("--no-moe-permute-fusion", dest="moe_permute_fusion", action="store_false",
                     help="model.moe_permute_fusion = False, for Transformer Engine builds "
                     "without the fused permute kernels")

    train = p.add_argument_group("training")
    train.add_argument("--seq-length", type=_positive_int, metavar="N", default=4096,
                       help="model.seq_length and the dataset's sequence length "
                       "(default: %(default)s)")
    train.add_argument("--train-iters", type=_positive_int, metavar="N", default=500,
                       help="train.train_iters (default: %(default)s)")
    train.add_argument("--micro-batch-size", type=_positive_int, metavar="N", default=1,
                       help="train.micro_batch_size (default: %(default)s)")
    train.add_argument("--global-batch-size", type=_positive_int, metavar="N", default=64,
                       help="train.global_batch_size; a multiple of micro batch size x data "
                       "parallel size (default: %(default)s)")
    train.add_argument("--lr", type=_positive_float, default=3e-4,
                       help="optimizer.lr, the peak of the cosine schedule (default: %(default)s)")
    train.add_argument("--min-lr", type=float, default=3e-5,
                       help="optimizer.min_lr (default: %(default)s)")
    train.add_argument("--lr-warmup-iters", type=_nonnegative_int, metavar="N", default=None,
                       help="scheduler.lr_warmup_iters (default: 50, or a tenth of "
                       "--train-iters when that is less)")
    train.add_argument("--recompute", choices=("full", "selective", "none"), default="full",
                       help="activation recomputation: model.recompute_granularity, "
                       "full = uniform over 1 layer as in the recipe (default: %(default)s)")
    train.add_argument("--precision", default=None,
                       help="mixed_precision recipe name, e.g. bf16_mixed (default: the recipe's, "
                       "bf16_mixed)")
    train.add_argument("--seed", type=int, default=1234, help="rng.seed (default: %(default)s)")
    train.add_argument("--eval-interval", type=_positive_int, metavar="N", default=100,
                       help="iterations between validations (default: %(default)s)")
    train.add_argument("--eval-iters", type=_nonnegative_int, metavar="N", default=None,
                       help="iterations per validation (default: the recipe's, 32)")

    data = p.add_argument_group("data (one of --mock-data and --data-path)")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--mock-data", action="store_true",
                        help="synthetic tokens: a smoke test of the whole stack, no files needed")
    source.add_argument("--data-path", nargs="+", metavar="[WEIGHT] PREFIX",
                        help="Megatron indexed datasets (PREFIX.bin/PREFIX.idx), optionally "
                        "weighted as in Megatron-LM: `--data-path 0.7 /d/a 0.3 /d/b`; sets "
                        "dataset.blend")
    data.add_argument("--split", default="9999,8,2",
                      help="train,valid,test split of --data-path (default: %(default)s)")
    data.add_argument("--tokenizer", choices=("null", "hf"), default=None,
                      help="null: NullTokenizer (fine for --mock-data); hf: the tokenizer of "
                      "--hf-path (default: null with --mock-data, hf with --data-path)")
    data.add_argument("--num-workers", type=_nonnegative_int, metavar="N", default=None,
                      help="dataloader workers per rank (default: the recipe's, 8)")

    out = p.add_argument_group("checkpoints and logs")
    out.add_argument("--save", default=None, metavar="DIR",
                     help="checkpoint.save: where checkpoints go, on storage every node shares "
                     "(default: no checkpoints)")
    out.add_argument("--load", default=None, metavar="DIR",
                     help="checkpoint.load: resume from here (default: the --save directory, "
                     "so a restarted job resumes)")
    out.add_argument("--save-interval", type=_positive_int, metavar="N", default=None,
                     help="checkpoint.save_interval in iterations (default: the recipe's, 2000)")
    out.add_argument("--log-interval", type=_positive_int, metavar="N", default=10,
                     help="logger.log_interval (default: %(default)s)")
    out.add_argument("--tensorboard-dir", default=None, metavar="DIR",
                     help="logger.tensorboard_dir (default: no TensorBoard)")
    out.add_argument("--distributed-timeout-minutes", type=_positive_int, metavar="N", default=None,
                     help="dist.distributed_timeout_minutes for NCCL collectives")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse flags; bad flags exit 2 through argparse."""
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.data_path is not None:
        try:
            args.blend = parse_blend(args.data_path)
        except ValueError as e:
            parser.error(f"--data-path: {e}")
    else:
        args.blend = None
    if args.tokenizer is None:
        args.tokenizer = "null" if args.mock_data else "hf"
    if args.lr_warmup_iters is None:
        args.lr_warmup_iters = min(50, args.train_iters // 10)
    if args.lr_warmup_iters >= args.train_iters:
        parser.error(f"--lr-warmup-iters ({args.lr_warmup_iters}) must be less than "
                     f"--train-iters ({args.train_iters})")
    if args.load is None:
        args.load = args.save
    return args


def parse_blend(words):
    """Megatron-LM's --data-path: PREFIX... or WEIGHT PREFIX WEIGHT PREFIX...

    Returns (prefixes, weights or None), the shape of GPTDatasetConfig.blend."""

    def number(w):
        try:
            return float(w)
        except ValueError:
            return None

    if number(words[0]) is None:
        if any(number(w) is not None for w in words):
            raise ValueError("either every prefix has a weight before it or none has")
        return (list(words), None)
    if len(words) % 2:
        raise ValueError("weights and prefixes must come in pairs: WEIGHT PREFIX ...")
    weights, prefixes = [], []
    for w, prefix in zip(words[0::2], words[1::2]):
        value = number(w)
        if value is None or value <= 0:
            raise ValueError(f"'{w}' is not a positive weight")
        if number(prefix) is not None:
            raise ValueError(f"'{prefix}' looks like a weight where a prefix belongs")
        weights.append(value)
        prefixes.append(prefix)
    return (prefixes, weights)


# ---------------------------------------------------------------------------------------
# environment and layout


_LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                "MASTER_PORT")


def read_env(environ: Mapping[str, str]) -> LaunchEnv:
    """The process's place in the job, from the launcher's variables; UsageError if absent."""
    missing = [k for k in _LAUNCH_VARS if not environ.get(k, "").strip()]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} not set: this script is one rank of a job and learns its "
            "place from the launcher; run it under rlaunch, e.g. "
            "`rlaunch --gpus-per-node 8 -- python3 examples/megatron/pretrain_deepseek_v2_lite.py "
            "--mock-data` (or srun ... rlaunch ... across nodes)")
    numbers = {}
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_PORT"):
        text = environ[k].strip()
        try:
            numbers[k] = int(text, 10)
        except ValueError:
            raise UsageError(f"{k}='{environ[k]}' is not a number; run it under rlaunch, which "
                             "sets it")
    rank, local_rank = numbers["RANK"], numbers["LOCAL_RANK"]
    world, local_world = numbers["WORLD_SIZE"], numbers["LOCAL_WORLD_SIZE"]
    port = numbers["MASTER_PORT"]
    if world < 1 or local_world < 1 or local_world > world:
        raise UsageError(f"WORLD_SIZE={world} and LOCAL_WORLD_SIZE={local_world} do not describe "
                         "a job; run it under rlaunch")
    if not 0 <= rank < world:
        raise UsageError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world}); run it "
                         "under rlaunch")
    # LOCAL_RANK may exceed LOCAL_WORLD_SIZE: under rlaunch's `reset` policy it is the
    # physical GPU id (4 for the first rank on CUDA_VISIBLE_DEVICES=4,5,6,7)
    if local_rank < 0:
        raise UsageError(f"LOCAL_RANK={local_rank} is negative; run it under rlaunch")
    if not 0 < port < 65536:
        raise UsageError(f"MASTER_PORT={port} is not a TCP port; run it under rlaunch")
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    count = _gpu_count(visible)
    if count is not None and count > 1 and local_rank >= count:
        raise UsageError(f"LOCAL_RANK={local_rank} but CUDA_VISIBLE_DEVICES='{visible}' lists "
                         f"{count} GPUs; let rlaunch set both (--cuda-visible-devices)")
    return LaunchEnv(rank=rank, local_rank=local_rank, world_size=world,
                     local_world_size=local_world, master_addr=environ["MASTER_ADDR"].strip(),
                     master_port=port, cuda_visible_devices=visible)


def data_parallel_size(args, env: LaunchEnv) -> int:
    return env.world_size // (args.tensor_parallel_size * args.pipeline_parallel_size
                              * args.context_parallel_size)


def check_layout(args, env: LaunchEnv) -> None:
    """The divisibility rules Megatron enforces at start-up, checked before anything loads.

    Megatron Bridge: WORLD_SIZE % (TP*PP*CP) == 0 (the data-parallel size). Megatron Core's
    initialize_model_parallel: WORLD_SIZE % (ETP*EP*PP) == 0 (the expert grid; ETP defaults
    to TP). The microbatch calculator: global batch % (micro batch * DP) == 0."""
    tp, pp, cp = args.tensor_parallel_size, args.pipeline_parallel_size, args.context_parallel_size
    ep = args.expert_parallel_size
    etp = args.expert_tensor_parallel_size or tp
    w = env.world_size
    if w % (tp * pp * cp):
        raise UsageError(
            f"WORLD_SIZE={w} is not divisible by tensor x pipeline x context parallel size "
            f"({tp} x {pp} x {cp} = {tp * pp * cp}); change the parallel sizes or the number "
            "of GPUs (nodes x --gpus-per-node)")
    if w % (etp * ep * pp):
        raise UsageError(
            f"WORLD_SIZE={w} is not divisible by expert tensor x expert x pipeline parallel "
            f"size ({etp} x {ep} x {pp} = {etp * ep * pp}); lower --expert-parallel-size or "
            "change the number of GPUs")
    dp = data_parallel_size(args, env)
    if args.global_batch_size % (args.micro_batch_size * dp):
        raise UsageError(
            f"--global-batch-size {args.global_batch_size} is not a multiple of "
            f"--micro-batch-size x data parallel size ({args.micro_batch_size} x {dp} = "
            f"{args.micro_batch_size * dp}; data parallel size = WORLD_SIZE {w} / "
            f"(TP {tp} x PP {pp} x CP {cp}))")


# ---------------------------------------------------------------------------------------
# Megatron Bridge


class MegatronAPI(NamedTuple):
    """The few Megatron Bridge entry points this script uses."""

    torch: object
    AutoBridge: object
    recipe: object  # deepseek_v2_lite_pretrain_config
    pretrain: object  # megatron.bridge.training.pretrain.pretrain(config, forward_step_func)
    forward_step: object  # megatron.bridge.training.gpt_step.forward_step


def import_megatron() -> MegatronAPI:
    """Import torch and Megatron Bridge; MissingMegatron with one line of explanation if not."""
    step = "torch"
    try:
        import torch

        step = "megatron.bridge"
        from megatron.bridge import AutoBridge
        from megatron.bridge.recipes.deepseek import deepseek_v2_lite_pretrain_config
        from megatron.bridge.training.gpt_step import forward_step
        from megatron.bridge.training.pretrain import pretrain
    except ModuleNotFoundError as e:
        missing = e.name or str(e)
        if missing == "torch" or missing.startswith("torch."):
            what = "PyTorch is not installed in this Python"
        elif missing == "megatron" or missing.startswith("megatron.bridge"):
            what = "Megatron Bridge is not installed in this Python"
        elif missing.startswith("megatron.core"):
            what = "Megatron Core (a dependency of Megatron Bridge) is not installed"
        else:
            what = f"{step} needs '{missing}', which is not installed"
        raise MissingMegatron(f"cannot import {step} ({sys.executable}): {what}; {INSTALL_HINT}")
    except ImportError as e:
        # present but without what this script needs: a Megatron Bridge too old for the
        # DeepSeek-V2-Lite recipe, or a broken install
        raise MissingMegatron(f"cannot import {step} ({sys.executable}): {e}; this script needs "
                              f"Megatron Bridge with deepseek_v2_lite_pretrain_config; "
                              f"{INSTALL_HINT}")
    except Exception as e:  # a library that fails while loading (CUDA, a .so) is no better
        raise MissingMegatron(f"cannot import {step} ({sys.executable}): "
                              f"{type(e).__name__}: {e}; {INSTALL_HINT}")
    return MegatronAPI(torch=torch, AutoBridge=AutoBridge, recipe=deepseek_v2_lite_pretrain_config,
                       pretrain=pretrain, forward_step=forward_step)


# Settings of the recipe's own model provider that are about how to run, not about the
# architecture: carried over when --hf-path replaces that provider.
_RUN_SETTINGS = ("transformer_impl", "moe_token_dispatcher_type", "moe_grouped_gemm",
                 "moe_permute_fusion", "moe_router_fusion", "moe_shared_expert_overlap",
                 "cross_entropy_loss_fusion", "cross_entropy_fusion_impl", "attention_backend",
                 "init_method_std")


def _recipe_config(args, api: MegatronAPI):
    """The DeepSeek-V2-Lite recipe's ConfigContainer, with its model built from --hf-path.

    Megatron Bridge releases differ: older recipes take keyword arguments (hf_path, ...),
    newer ones none (the model always comes from the hub id)."""
    try:
        params = inspect.signature(api.recipe).parameters.values()
        takes_hf_path = any(p.name == "hf_path" or p.kind is p.VAR_KEYWORD for p in params)
    except (TypeError, ValueError):
        takes_hf_path = False
    if takes_hf_path:
        return api.recipe(hf_path=args.hf_path)
    cfg = api.recipe()
    if args.hf_path != DEFAULT_HF_PATH:
        bridge = api.AutoBridge.from_hf_pretrained(args.hf_path)
        provider = bridge.to_megatron_provider(load_weights=False)
        for name in _RUN_SETTINGS:
            if hasattr(cfg.model, name) and hasattr(provider, name):
                setattr(provider, name, getattr(cfg.model, name))
        cfg.model = provider
    return cfg


def _set(obj, name, value):
    """Set a field that this Megatron Bridge release has (some moved between releases)."""
    if hasattr(obj, name):
        setattr(obj, name, value)
        return True
    return False


def build_config(args, env: LaunchEnv, api: Optional[MegatronAPI] = None):
    """The Megatron Bridge ConfigContainer for this rank: the recipe, then the flags.

    Reads nothing but its arguments (the environment arrives as `env`) and writes nothing
    outside the returned config. Raises UsageError for a layout the model cannot take."""
    if api is None:
        api = import_megatron()
    cfg = _recipe_config(args, api)

    m = cfg.model
    m.tensor_model_parallel_size = args.tensor_parallel_size
    m.pipeline_model_parallel_size = args.pipeline_parallel_size
    m.pipeline_dtype = api.torch.bfloat16 if args.pipeline_parallel_size > 1 else None
    m.context_parallel_size = args.context_parallel_size
    m.expert_model_parallel_size = args.expert_parallel_size
    if args.expert_tensor_parallel_size is not None:
        m.expert_tensor_parallel_size = args.expert_tensor_parallel_size
    m.sequence_parallel = args.sequence_parallel
    m.seq_length = args.seq_length
    if not args.moe_permute_fusion:
        m.moe_permute_fusion = False
    if isinstance(getattr(m, "rotary_base", None), int):
        m.rotary_base = float(m.rotary_base)  # as the recipe does
    recompute = {"full": ("full", "uniform", 1), "selective": ("selective", None, None),
                 "none": (None, None, None)}[args.recompute]
    m.recompute_granularity, m.recompute_method, m.recompute_num_layers = recompute
    experts = getattr(m, "num_moe_experts", None)
    if isinstance(experts, int) and experts % args.expert_parallel_size:
        raise UsageError(f"--expert-parallel-size {args.expert_parallel_size} does not divide the "
                         f"{experts} routed experts of {args.hf_path}")

    cfg.train.train_iters = args.train_iters
    cfg.train.global_batch_size = args.global_batch_size
    cfg.train.micro_batch_size = args.micro_batch_size
    # evaluation moved from TrainingConfig to ValidationConfig in newer releases
    evaluation = getattr(cfg, "validation", None) or cfg.train
    evaluation.eval_interval = args.eval_interval
    if args.eval_iters is not None:
        evaluation.eval_iters = args.eval_iters

    cfg.optimizer.lr = args.lr
    cfg.optimizer.min_lr = args.min_lr
    cfg.scheduler.lr_warmup_iters = args.lr_warmup_iters
    cfg.scheduler.lr_decay_iters = args.train_iters  # cosine down to min_lr at the last iteration

    d = cfg.dataset
    _set(d, "seq_length", args.seq_length)       # newer GPTDatasetConfig
    _set(d, "sequence_length", args.seq_length)  # Megatron Core's field
    if args.mock_data:
        d.blend, d.blend_per_split = None, None  # no blend: Bridge builds mock data
    else:
        d.blend, d.blend_per_split = args.blend, None
        d.split = args.split
    if args.num_workers is not None:
        d.num_workers = args.num_workers

    t = cfg.tokenizer
    if args.tokenizer == "hf":
        t.tokenizer_type, t.tokenizer_model = "HuggingFaceTokenizer", args.hf_path
        _set(t, "vocab_size", None)
    else:
        t.tokenizer_type, t.tokenizer_model = "NullTokenizer", None

    c = cfg.checkpoint
    c.save, c.load = args.save, args.load
    if args.save_interval is not None:
        c.save_interval = args.save_interval

    cfg.logger.log_interval = args.log_interval
    cfg.logger.tensorboard_dir = args.tensorboard_dir
    cfg.rng.seed = args.seed
    if args.precision is not None:
        cfg.mixed_precision = args.precision

    # The GPU this rank drives, as rlaunch arranged it. Bridge calls
    # torch.cuda.set_device(LOCAL_RANK), or device 0 with external_gpu_device_mapping.
    # rlaunch's `reset` (unset, LOCAL_RANK = physical id) and `keep` (LOCAL_RANK = index
    # into the list) need the former; `single` (one GPU visible, LOCAL_RANK = 0..G-1) the
    # latter. Exactly one visible GPU means device 0 whatever LOCAL_RANK says.
    _set(cfg.dist, "local_rank", env.local_rank)
    _set(cfg.dist, "external_gpu_device_mapping", env.visible_gpu_count() == 1)
    if args.distributed_timeout_minutes is not None:
        cfg.dist.distributed_timeout_minutes = args.distributed_timeout_minutes
    return cfg


# ---------------------------------------------------------------------------------------


def _fail(message: str, code: int) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr, flush=True)
    return code


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        env = read_env(os.environ)
        check_layout(args, env)
        api = import_megatron()
        cfg = build_config(args, env, api)
    except UsageError as e:
        return _fail(str(e), EXIT_USAGE)
    except MissingMegatron as e:
        return _fail(str(e), EXIT_NO_MEGATRON)

    m = cfg.model
    print(f"{PROG}: rank {env.rank}/{env.world_size} local_rank {env.local_rank}/"
          f"{env.local_world_size} master {env.master_addr}:{env.master_port} "
          f"TP={m.tensor_model_parallel_size} PP={m.pipeline_model_parallel_size} "
          f"CP={m.context_parallel_size} EP={m.expert_model_parallel_size} "
          f"DP={data_parallel_size(args, env)} model={args.hf_path}", flush=True)
    api.pretrain(cfg, api.forward_step)
    return 0


if __name__ == "__main__":
    sys.exit(main())

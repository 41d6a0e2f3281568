"""STAND-IN for megatron.bridge.training.pretrain: records what it is given and returns.

pretrain(config, forward_step_func) writes $STANDIN_RECORD_DIR/rank<RANK>.json with
  config        the container, every object turned into a dict of its attributes
  forward_step  module.qualname of the function it was handed
  calls         the calls made into the stand-in before (AutoBridge, the recipe)
  env           os.environ as this process has it at that moment
"""

import json
import os

from megatron.bridge import CALLS


def _plain(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__") and not callable(value):
        return {k: _plain(v) for k, v in vars(value).items()}
    return str(value)  # torch.bfloat16 and the like


def pretrain(config, forward_step_func, callbacks=None):
    out_dir = os.environ.get("STANDIN_RECORD_DIR")
    if not out_dir:
        raise RuntimeError("megatron_bridge_standin: set STANDIN_RECORD_DIR")
    record = {
        "standin": "megatron_bridge_standin",
        "config": _plain(config),
        "forward_step": f"{forward_step_func.__module__}.{forward_step_func.__qualname__}",
        "calls": CALLS,
        "env": dict(os.environ),
    }
    path = os.path.join(out_dir, f"rank{os.environ.get('RANK', 'unknown')}.json")
    with open(path, "w") as f:
        json.dump(record, f, indent=1, sort_keys=True)

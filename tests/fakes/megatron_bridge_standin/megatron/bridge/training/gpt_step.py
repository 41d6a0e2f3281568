"""STAND-IN for megatron.bridge.training.gpt_step: a forward_step that is never run."""


def forward_step(state, data_iterator, model, return_schedule_plan=False):
    raise RuntimeError("megatron_bridge_standin: forward_step is a stand-in and trains nothing")

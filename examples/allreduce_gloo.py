"""The smallest real distributed job: PyTorch gloo, env:// rendezvous, one
all-reduce whose result every rank checks.

    rlaunch --gpus-per-node 4 -- /usr/bin/python3 examples/allreduce_gloo.py

Reads only what rlaunch (or torchrun) sets: RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT. FAIL_RANK=N makes rank N exit with status 13 after the first
all-reduce (used by the tests to show fail-fast on a real job).
"""
import os
import sys
import time

import torch
import torch.distributed as dist


def main():
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    dist.init_process_group("gloo", init_method="env://")
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    expected = world * (world + 1) / 2
    if t.item() != expected:
        print(f"rank {rank}/{world}: all_reduce sum {t.item()} != {expected}", flush=True)
        sys.exit(1)
    print(f"rank {rank}/{world}: all_reduce sum {t.item()} ok", flush=True)
    if os.environ.get("FAIL_RANK") == str(rank):
        sys.exit(13)
    if os.environ.get("FAIL_RANK"):
        # the others wait, as ranks stuck in a collective would: rlaunch must
        # stop them (a gloo barrier would notice the lost peer and fail too,
        # muddying which failure came first)
        time.sleep(300)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

#!/bin/bash
# A real client nobody here wrote: PyTorch's init_process_group("gloo",
# init_method="env://") and an all-reduce across 4 ranks, sum verified.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import torch.distributed' 2>/dev/null; then
	echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"
	exit 77
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

CUDA_VISIBLE_DEVICES='' rl --gpus-per-node 4 --master-port 0 -- \
	"$PY" "$ROOT/examples/allreduce_gloo.py" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/err" >&2; die "gloo job failed with $rc"; }
for r in 0 1 2 3; do
	assert_contains "$T/out" "[rank$r]:rank $r/4: all_reduce sum 10.0 ok" "rank $r verified the sum"
done
assert_no_leftovers "gloo job"

# one rank dies mid-job: the job ends with its status instead of hanging
CUDA_VISIBLE_DEVICES='' rl --gpus-per-node 4 --master-port 0 --grace 3 --env FAIL_RANK=2 -- \
	"$PY" "$ROOT/examples/allreduce_gloo.py" >"$T/out" 2>"$T/err"
assert_eq "$?" 13 "status of the rank that failed"
assert_contains "$T/err" "rank      : 2 (local_rank: 2)" "culprit named"
assert_no_leftovers "gloo job with a failing rank"
pass

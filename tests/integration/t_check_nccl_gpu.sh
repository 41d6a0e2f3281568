#!/bin/bash
# The NCCL health check on real GPUs: every GPU of this machine, one rank
# each, device buffers, GO expected. Skips (77) where there is no GPU.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

if ! [ -e /dev/nvidia0 ] || ! nvidia-smi -L >/dev/null 2>&1; then
	echo "SKIP: no NVIDIA GPU here; the NCCL check's error paths are tested in t_check.sh"
	exit 77
fi
gpus=$(nvidia-smi -L | wc -l)
unset CUDA_VISIBLE_DEVICES
rl --gpus-per-node "$gpus" --check nccl --check-bytes 67108864 --check-iters 5 --check-only \
	--report "$T/report.json" -- true 2>"$T/err"
rc=$?
cat "$T/err"
assert_eq "$rc" 0 "NCCL check on $gpus GPU(s)"
assert_contains "$T/err" "health check: GO" "verdict"
/usr/bin/python3 - "$T/report.json" <<'PY' || fail "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "GO" and r["backend"] == "nccl", r
print("busbw per rank:", [(x["rank"], x["node_busbw_gbps"], x["all_busbw_gbps"]) for x in r["nodes"][0]["ranks"]])
PY
# wrong data on a GPU rank is caught too
RLAUNCH_TEST_CHECK_CORRUPT=0 rl --gpus-per-node "$gpus" --check nccl --check-bytes 1048576 \
	--check-only -- true 2>"$T/err2"
assert_eq "$?" 78 "wrong data on GPU"
assert_contains "$T/err2" "wrong data at index" "wrong data named"
assert_no_leftovers "NCCL check"
pass

#!/bin/bash
# The health check (ofi backend, libfabric's tcp provider on loopback): a
# passing check lets COMMAND start; wrong data, a hang or a backend that
# cannot start are named in the table and the job ends with 78 before
# COMMAND ever runs; --check-only; --report; across agents; a real PyTorch
# job after GO.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -e /usr/lib/x86_64-linux-gnu/libfabric.so.1 ] || ldconfig -p | grep -q libfabric.so.1 ||
	{ echo "SKIP: libfabric is not installed (scripts/install-deps.sh)"; exit 77; }
export CUDA_VISIBLE_DEVICES=0,1,2
CHECK=(--check ofi --check-bytes 262144 --check-iters 2)
work='touch "$OUT/started.$RANK"'

# --- pass: table, JSON report, then COMMAND ------------------------------------------
mkdir "$T/pass"
OUT="$T/pass" rl "${CHECK[@]}" --report "$T/pass/report.json" -- sh -c "$work" 2>"$T/pass/err"
assert_eq "$?" 0 "a passing check"
assert_contains "$T/pass/err" "health check: GO (1 node, 3 ranks)" "verdict line"
assert_contains "$T/pass/err" "0-2" "table lists the node's ranks"
assert_eq "$(ls "$T"/pass/started.* 2>/dev/null | wc -l)" 3 "COMMAND ran on every rank after GO"
/usr/bin/python3 - "$T/pass/report.json" <<'PY' || fail "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["verdict"] == "GO", r
assert len(r["nodes"]) == 1 and len(r["nodes"][0]["ranks"]) == 3, r
assert all(x["status"] == "ok" and x["node_busbw_gbps"] > 0 for x in r["nodes"][0]["ranks"]), r
PY
assert_no_leftovers "passing check"

# --- provoked failures: named, exit 78, COMMAND never started --------------------------
provoke() { # hook rank expected-text [extra rlaunch args]
	local hook=$1 rank=$2 text=$3
	shift 3
	rm -rf "$T/fail" && mkdir "$T/fail"
	env "RLAUNCH_TEST_CHECK_$hook=$rank" OUT="$T/fail" RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" \
		"${CHECK[@]}" "$@" -- sh -c "$work" 2>"$T/fail/err"
	assert_eq "$?" 78 "$hook on rank $rank: exit status"
	assert_contains "$T/fail/err" "$text" "$hook on rank $rank: the table names it"
	assert_contains "$T/fail/err" "NO-GO" "$hook on rank $rank: verdict"
	assert_not_contains "$T/fail/err" "Root Cause" "$hook: no rank-failure report on top"
	[ -z "$(ls "$T"/fail/started.* 2>/dev/null)" ] || fail "$hook: COMMAND started after NO-GO"
	assert_no_leftovers "$hook on rank $rank"
}
# one node: every rank of the ring sees the wrong sum; the table says where
provoke CORRUPT 1 ": wrong data at index"
provoke INIT_FAIL 2 "rank 2: backend could not start"
start=$(now)
provoke HANG 0 "1 rank never reported: 0" --check-timeout 2
took=$(elapsed_since "$start")
less_than "$took" 12 || fail "a hung rank took ${took}s to be named (timeout 2 s per phase)"

# --- the NCCL backend where it cannot run: a clear NO-GO naming the rank ----------
if [ -e /dev/nvidia0 ]; then
	echo "note: this machine has a GPU; the no-GPU path of --check nccl is not checked here"
else
	mkdir "$T/nccl"
	OUT="$T/nccl" rl --check nccl -- sh -c "$work" 2>"$T/nccl/err"
	assert_eq "$?" 78 "--check nccl without a usable GPU"
	grep -qE "rank [0-2]: backend could not start: (no CUDA device|cannot load the CUDA runtime|cannot load NCCL)" \
		"$T/nccl/err" || fail "--check nccl without a GPU: reason ($(cat "$T/nccl/err"))"
	[ -z "$(ls "$T"/nccl/started.* 2>/dev/null)" ] || fail "COMMAND started without a GPU check"
fi
OUT="$T/nccl" rl --check nccl --nccl-lib /nonexistent/libnccl.so.2 -- sh -c "$work" 2>"$T/nccl-lib.err"
assert_eq "$?" 78 "--nccl-lib that does not exist"
grep -qE "cannot load (NCCL \(/nonexistent/libnccl.so.2\)|the CUDA runtime)" "$T/nccl-lib.err" ||
	fail "--nccl-lib: reason ($(cat "$T/nccl-lib.err"))"
assert_no_leftovers "nccl error paths"

# --- a bandwidth threshold no loopback reaches ------------------------------------------
mkdir "$T/slow"
OUT="$T/slow" rl "${CHECK[@]}" --check-min-busbw 100000 -- sh -c "$work" 2>"$T/slow/err"
assert_eq "$?" 78 "under --check-min-busbw"
assert_contains "$T/slow/err" "is under --check-min-busbw 100000.000" "names the threshold"
[ -z "$(ls "$T"/slow/started.* 2>/dev/null)" ] || fail "COMMAND started on a slow fabric"
assert_no_leftovers "bandwidth threshold"

# --- --check-only: the report, no COMMAND ---------------------------------------------
mkdir "$T/only"
OUT="$T/only" rl "${CHECK[@]}" --check-only -- sh -c "$work" 2>"$T/only/err"
assert_eq "$?" 0 "--check-only after GO"
[ -z "$(ls "$T"/only/started.* 2>/dev/null)" ] || fail "--check-only started COMMAND"
assert_no_leftovers "--check-only"

# --- across agents: two nodes on loopback ----------------------------------------------
export RLAUNCH_TOKEN="check-$RANDOM$RANDOM"
export CUDA_VISIBLE_DEVICES=0,1
PORT=$(free_port)
mkdir "$T/multi"
for a in 127.0.0.1 127.0.0.2; do
	OUT="$T/multi" agent "$T/multi/agent.$a" "$a" --rdzv-endpoint "127.0.0.1:$PORT" --nodes 2 \
		"${CHECK[@]}" -- sh -c "$work"
done
wait_agents
assert_eq "${RCS[*]}" "0 0" "two nodes pass"
cat "$T"/multi/agent.* >"$T/multi/all" # the table is on whichever agent serves
assert_contains "$T/multi/all" "health check: GO (2 nodes, 4 ranks)" "job-wide verdict"
assert_contains "$T/multi/all" "127.0.0.2" "table lists the second node"
assert_eq "$(ls "$T"/multi/started.* | wc -l)" 4 "COMMAND ran on both nodes"
assert_no_leftovers "two nodes"

mkdir "$T/multifail"
for a in 127.0.0.1 127.0.0.2; do
	RLAUNCH_TEST_CHECK_CORRUPT=3 OUT="$T/multifail" agent "$T/multifail/agent.$a" "$a" \
		--rdzv-endpoint "127.0.0.1:$PORT" --nodes 2 "${CHECK[@]}" -- sh -c "$work"
done
wait_agents
assert_eq "${RCS[*]}" "78 78" "NO-GO ends every node with 78"
# the intra-node phase finds it on the broken node first: that row fails
cat "$T"/multifail/agent.* >"$T/multifail/all"
grep -E "127\.0\.0\.2 .* rank [23]: wrong data at index" "$T/multifail/all" >/dev/null ||
	fail "the table blames node 1 ($(grep 127.0.0.2 "$T/multifail/all"))"
[ -z "$(ls "$T"/multifail/started.* 2>/dev/null)" ] || fail "COMMAND started after a job-wide NO-GO"
assert_no_leftovers "two nodes, NO-GO"

# --- a real job after GO -----------------------------------------------------------------
if /usr/bin/python3 -c 'import torch.distributed' 2>/dev/null; then
	ROOT=$(cd "$(dirname "$0")/../.." && pwd)
	rl "${CHECK[@]}" --master-port 0 -- /usr/bin/python3 "$ROOT/examples/allreduce_gloo.py" \
		>"$T/gloo.out" 2>"$T/gloo.err"
	assert_eq "$?" 0 "PyTorch after GO"
	assert_contains "$T/gloo.out" "all_reduce sum 3.0 ok" "PyTorch verified its sum"
	assert_no_leftovers "PyTorch after GO"
fi
pass

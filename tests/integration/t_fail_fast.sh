#!/bin/bash
# One rank exits 3 while the others sleep: rlaunch exits 3, the others are
# gone within the grace period, the summary names the culprit.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

start=$(now)
CUDA_VISIBLE_DEVICES=0,1,2,3 rl --grace 2 -- sh -c '
	if [ "$RANK" = 2 ]; then sleep 0.3; exit 3; fi
	exec sleep 60' 2>"$T/err"
rc=$?
took=$(elapsed_since "$start")
assert_eq "$rc" 3 "exit status is the failing rank's"
less_than "$took" 3 || fail "took ${took}s, more than grace (2s) + 1s"
assert_contains "$T/err" "Root Cause (first observed failure)" "summary"
assert_contains "$T/err" "rank      : 2 (local_rank: 2)" "summary names rank 2"
assert_contains "$T/err" "status    : exit code 3" "summary status"
assert_contains "$T/err" "host      : $(hostname)" "summary host"
assert_no_leftovers "fail-fast"

# a rank that ignores SIGTERM is killed after --grace
start=$(now)
CUDA_VISIBLE_DEVICES=0,1 rl --grace 1 -- sh -c '
	if [ "$RANK" = 0 ]; then sleep 0.3; exit 5; fi
	trap "" TERM; while :; do sleep 0.05; done' 2>"$T/err2"
rc=$?
took=$(elapsed_since "$start")
assert_eq "$rc" 5 "exit status with a stubborn rank"
less_than "$took" 2.5 || fail "stubborn rank: took ${took}s, more than grace (1s) + 1s"
less_than 1.2 "$took" || fail "stubborn rank killed before the grace period: ${took}s"
assert_contains "$T/err2" "sending SIGKILL" "escalation reported"
assert_no_leftovers "stubborn rank"

# grandchildren in the failing rank's group go too
CUDA_VISIBLE_DEVICES=0,1 rl --grace 1 -- sh -c '
	sleep 60 & sleep 60 &
	if [ "$RANK" = 1 ]; then sleep 0.3; exit 4; fi
	wait' 2>/dev/null
assert_eq "$?" 4 "exit status with grandchildren"
assert_no_leftovers "grandchildren"
pass

#!/bin/bash
# A rank killed by a signal: rlaunch exits 128+signal and names the signal.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

CUDA_VISIBLE_DEVICES=0,1,2 rl --grace 2 -- sh -c '
	if [ "$RANK" = 1 ]; then sleep 0.2; kill -SEGV $$; fi
	exec sleep 60' 2>"$T/err"
assert_eq "$?" 139 "128 + SIGSEGV"
assert_contains "$T/err" "signal SIGSEGV (11)" "summary names the signal"
assert_contains "$T/err" "rank      : 1" "summary names rank 1"
assert_no_leftovers

CUDA_VISIBLE_DEVICES=0,1 rl -- sh -c '[ "$RANK" = 0 ] && kill -9 $$; exec sleep 60' 2>"$T/err"
assert_eq "$?" 137 "128 + SIGKILL"
assert_contains "$T/err" "signal SIGKILL (9)" "SIGKILL named"
assert_no_leftovers
pass

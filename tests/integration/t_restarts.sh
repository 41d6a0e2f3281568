#!/bin/bash
# --max-restarts: all ranks restart after a failure, with
# TORCHELASTIC_RESTART_COUNT counting up; the last failure decides the status.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# rank 1 fails in attempts 0 and 1, succeeds in attempt 2
CUDA_VISIBLE_DEVICES=0,1 OUT="$T" rl --max-restarts 3 --grace 2 -- sh -c '
	f="$OUT/attempt.$TORCHELASTIC_RESTART_COUNT"
	echo "$RANK" >> "$f"
	if [ "$RANK" = 1 ] && [ "$TORCHELASTIC_RESTART_COUNT" -lt 2 ]; then
		# fail only once rank 0 has signed in, or it may be stopped before it does
		i=0; while [ "$(wc -l < "$f")" -lt 2 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
		exit 7
	fi
	[ "$RANK" = 1 ] || sleep 0.5' 2>"$T/err"
assert_eq "$?" 0 "success after two restarts"
for a in 0 1 2; do
	assert_eq "$(sort "$T/attempt.$a" 2>/dev/null | tr '\n' ' ')" "0 1 " "both ranks ran in attempt $a"
done
[ -e "$T/attempt.3" ] && fail "a fourth attempt ran"
assert_contains "$T/err" "restarting all ranks (restart 1 of 3)" "restart 1 logged"
assert_contains "$T/err" "restarting all ranks (restart 2 of 3)" "restart 2 logged"
assert_not_contains "$T/err" "Root Cause" "no failure summary on success"
assert_no_leftovers "restarts"

# restarts exhausted: status of the last failure, summary says so
CUDA_VISIBLE_DEVICES=0 rl --max-restarts 1 -- sh -c 'exit $((10 + TORCHELASTIC_RESTART_COUNT))' 2>"$T/err2"
assert_eq "$?" 11 "status of the last attempt"
assert_contains "$T/err2" "restarts  : 1" "summary counts restarts"
assert_no_leftovers "restarts exhausted"

# a stop signal is never followed by a restart
mkdir "$T/sig"
CUDA_VISIBLE_DEVICES=0 OUT="$T/sig" rl_bg --max-restarts 5 -- sh -c '
	echo x >> "$OUT/runs"; touch "$OUT/ready"; exec sleep 60' 2>/dev/null
agent=$RL_PID
wait_files 1 "$T/sig/ready" 10 || die "rank never became ready"
kill -TERM "$agent"
wait "$agent"
assert_eq "$?" 143 "SIGTERM status"
assert_eq "$(wc -l < "$T/sig/runs")" 1 "no restart after SIGTERM"
assert_no_leftovers "signal during restarts"
pass

#!/bin/bash
# Nothing outlives the job: daemonised grandchildren (setsid, double fork)
# are adopted by rlaunch (child subreaper) and stopped with the ranks;
# ranks die with an agent killed by SIGKILL (parent-death signal).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# ranks succeed but leave daemons in new sessions behind
CUDA_VISIBLE_DEVICES=0,1 rl --grace 1 -- sh -c '
	setsid sleep 300 </dev/null >/dev/null 2>&1 &
	( setsid sh -c "sleep 300" </dev/null >/dev/null 2>&1 & ) ; exit 0' 2>"$T/err"
assert_eq "$?" 0 "job status"
assert_no_leftovers "daemons of successful ranks"

# a daemon that ignores SIGTERM is killed after the grace period
CUDA_VISIBLE_DEVICES=0 rl --grace 0.5 -- sh -c '
	setsid sh -c "trap \"\" TERM; while :; do sleep 0.1; done" </dev/null >/dev/null 2>&1 &
	sleep 0.1; exit 0' 2>"$T/err"
assert_eq "$?" 0 "job status with a stubborn daemon"
assert_no_leftovers "stubborn daemon"

# a daemon still holding the rank's stdout does not hold up the end of the job
start=$(now)
CUDA_VISIBLE_DEVICES=0 rl --grace 1 -- sh -c 'setsid sleep 300 & echo bye' >"$T/out" 2>/dev/null
took=$(elapsed_since "$start")
assert_contains "$T/out" "bye" "output kept"
less_than "$took" 3 || fail "took ${took}s with a daemon holding stdout"
assert_no_leftovers "daemon holding stdout"

# agent killed with SIGKILL: its ranks get their parent-death signal
mkdir "$T/k"
CUDA_VISIBLE_DEVICES=0,1,2 OUT="$T/k" rl_bg -- sh -c 'touch "$OUT/ready.$RANK"; exec sleep 300'
agent=$RL_PID
wait_files 3 "$T/k/ready.*" 10 || die "ranks never became ready"
kill -KILL "$agent"
wait "$agent" 2>/dev/null
sleep 0.3
assert_no_leftovers "ranks of a SIGKILLed agent"
pass

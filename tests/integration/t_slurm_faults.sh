#!/bin/bash
# Faults in the bootstrap stage, under a real srun --mpi=pmix on the simulated
# Slurm cluster (tests/cluster/slurm-sim.sh): the agents have called PMIx_Init
# and wait in the PMIx fence, where no rank exists yet and no rlaunch socket
# is open. A test hook holds the agent of PMIx rank 1 before it publishes its
# node info; in that window it is killed with SIGKILL, stopped with SIGSTOP,
# or its node loses its link. Each time the agent that did reach the fence
# gives up within --rdzv-timeout (+ 2 s to find who is missing) with status
# 75, naming PMIx rank 1 and its node, the faulty one (woken, or back on the
# network) gives up the same way, srun ends, and nothing of the job is left
# on any node. (Kill-a-rank has no bootstrap case: no rank exists yet.)
#   RLAUNCH_SOAK_ITERATIONS=N tests/integration/t_slurm_faults.sh   (soak)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

sim_cluster_up 2 2 4
unset RLAUNCH_TOKEN # PMIx rank 0 makes one
ITER=${RLAUNCH_SOAK_ITERATIONS:-1}
TIMEOUT=4 # --rdzv-timeout: bounds the fence
DELAY=3   # the hook's pause of PMIx rank 1, the window for the fault
BOUND=$((TIMEOUT + 4)) # the watchdog, 2 s asking who is missing, 2 s to spare
EXE=$(readlink -f "$RLAUNCH")
NODE2_LINK=${SIM_VETH:-vrl}2

# node_agent_pid N: the rlaunch agent of this test on simulated node nN
node_agent_pid() {
	local pid
	for pid in $(ip netns pids "${SIM_NS_PREFIX:-rlsim-}n$1" 2>/dev/null); do
		[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$EXE" ] || continue
		grep -qzx "RLAUNCH_TEST_MARK=$MARK" "/proc/$pid/environ" 2>/dev/null || continue
		echo "$pid"
		return 0
	done
	return 1
}

# gone_within PID SECONDS: wait for PID to end; 1 if it is still there
gone_within() {
	local _
	for _ in $(seq "$(($2 * 20))"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# start_step DIR: srun two agents; PMIx rank 1 holds before the fence.
# Sets SRUN, A0 and A1 (the agents on n1 and n2).
start_step() {
	local dir=$1 _
	mkdir -p "$dir"
	env RLAUNCH_TEST_MARK="$MARK" RLAUNCH_TEST_PMIX_DELAY="1:$DELAY" \
		srun -N2 --ntasks-per-node=1 --gpus-per-node=2 --mpi=pmix "$RLAUNCH" \
		--rdzv-timeout "$TIMEOUT" --grace 2 -- sleep 120 >"$dir/out" 2>"$dir/err" &
	SRUN=$!
	for _ in $(seq 200); do
		grep -q "pauses $DELAY s before publishing" "$dir/err" 2>/dev/null && break
		sleep 0.05
	done
	A0=$(node_agent_pid 1) || die "the agent on n1 never started"
	A1=$(node_agent_pid 2) || die "the agent on n2 never started"
}

# finish_step DIR WHAT: srun ends (60 s at most), nothing is left
finish_step() {
	local dir=$1 what=$2
	if ! gone_within "$SRUN" 60; then
		fail "$what: srun still running 60 s after the fault"
		kill -KILL "$SRUN" 2>/dev/null
	fi
	wait "$SRUN"
	SRUN_RC=$?
	sleep 0.3
	assert_no_leftovers "$what"
}

# record WHAT SECONDS BOUND: one line per fault, summed up at the end
record() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$T/times"
	echo "fault: $1: ended in $2 s (bound $3 s)"
	less_than "$2" "$3" || fail "$1: took $2 s, bound $3 s"
}

for i in $(seq "$ITER"); do
	d="$T/$i"

	# --- SIGKILL: the other agent's fence times out ------------------------------
	start_step "$d/kill"
	kill -KILL "$A1"
	start=$(now)
	gone_within "$A0" $((TIMEOUT + 5)) || fail "SIGKILL: the agent on n1 still waits"
	record "bootstrap, agent SIGKILL" "$(elapsed_since "$start")" "$BOUND"
	finish_step "$d/kill" "bootstrap, agent SIGKILL"
	assert_contains "$d/kill/err" "n1: task 0: Exited with exit code 75" "SIGKILL: n1's agent: 75"
	assert_contains "$d/kill/err" "did not complete within $TIMEOUT s" "SIGKILL: says the fence timed out"
	assert_contains "$d/kill/err" "of PMIx rank 1 (n2)" "SIGKILL: names the node"
	assert_contains "$d/kill/err" "n2: task 1: Killed" "SIGKILL: srun names the killed task"
	[ "$SRUN_RC" != 0 ] || fail "SIGKILL: srun succeeded"

	# --- SIGSTOP: a hung agent; once woken it gives up the same way --------------
	start_step "$d/stop"
	kill -STOP "$A1"
	start=$(now)
	gone_within "$A0" $((TIMEOUT + 5)) || fail "SIGSTOP: the agent on n1 still waits"
	record "bootstrap, agent SIGSTOP" "$(elapsed_since "$start")" "$BOUND"
	kill -CONT "$A1"
	start=$(now)
	gone_within "$A1" $((DELAY + TIMEOUT + 5)) || fail "SIGSTOP: the woken agent on n2 still waits"
	record "bootstrap, SIGSTOP, woken" "$(elapsed_since "$start")" $((DELAY + BOUND))
	finish_step "$d/stop" "bootstrap, agent SIGSTOP"
	assert_eq "$SRUN_RC" 75 "SIGSTOP: srun's status"
	assert_contains "$d/stop/err" "n1: task 0: Exited with exit code 75" "SIGSTOP: n1's agent: 75"
	assert_contains "$d/stop/err" "of PMIx rank 1 (n2)" "SIGSTOP: names the node"
	assert_contains "$d/stop/err" "n2: task 1: Exited with exit code 75" "SIGSTOP: n2's agent: 75"

	# --- link down: n2 is cut off while its agent holds ---------------------------
	start_step "$d/link"
	ip link set "$NODE2_LINK" down
	start=$(now)
	gone_within "$A0" $((TIMEOUT + 5)) || fail "link down: the agent on n1 still waits"
	record "bootstrap, link down (n1)" "$(elapsed_since "$start")" "$BOUND"
	gone_within "$A1" $((DELAY + TIMEOUT + 5)) || fail "link down: the agent on n2 still waits"
	record "bootstrap, link down (n2)" "$(elapsed_since "$start")" $((DELAY + BOUND))
	ip link set "$NODE2_LINK" up # slurmstepd on n2 can report to srun again
	finish_step "$d/link" "bootstrap, link down"
	assert_eq "$SRUN_RC" 75 "link down: srun's status"
	assert_contains "$d/link/err" "n1: task 0: Exited with exit code 75" "link down: n1's agent: 75"
	assert_contains "$d/link/err" "of PMIx rank 1 (n2)" "link down: names the node"
done

echo "summary over $ITER iteration(s):"
sort -t "$(printf '\t')" -k1,1 -k2,2n "$T/times" | awk -F '\t' '
	function flush() { if (n) printf "  %-28s n=%-4d min %6.2f s  median %6.2f s  max %6.2f s  bound %s s\n",
		key, n, v[1], v[int((n + 1) / 2)], v[n], bound }
	$1 != key { flush(); key = $1; n = 0 }
	{ v[++n] = $2; bound = $3 }
	END { flush() }'
pass

#!/bin/bash
# Fault injection across two agents on loopback: in each stage (rendezvous,
# health check, running) kill a rank, kill an agent with SIGKILL, stop one
# with SIGSTOP; and in each stage drop a node's link between two network
# namespaces. Each time: the whole job ends within its documented bound
# (docs/failures.md), with the documented status, a message naming the
# node, and nothing left in the process table. Faults in the bootstrap stage
# (before any rendezvous) need srun and live in t_slurm_faults.sh.
#   RLAUNCH_SOAK_ITERATIONS=100 tests/integration/t_fault_matrix.sh   (soak)
# prints one line per fault and a min / median / max summary per case.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export RLAUNCH_TOKEN="faults-$RANDOM$RANDOM"
export CUDA_VISIBLE_DEVICES=0,1
ITER=${RLAUNCH_SOAK_ITERATIONS:-1}
hold='touch "$OUT/ready.$RANK"; exec sleep 120'

# start NODES: coordinator on 127.0.0.1, member on 127.0.0.2; extra rlaunch args
start_pair() {
	local dir=$1 nodes=$2
	shift 2
	mkdir -p "$dir"
	PORT=$(free_port)
	OUT="$dir" agent "$dir/agent.1" 127.0.0.1 --rdzv-endpoint "127.0.0.1:$PORT" --nodes "$nodes" \
		--grace 2 "$@" -- sh -c "$hold"
	wait_listen "$PORT" || die "the coordinator never listened"
	OUT="$dir" agent "$dir/agent.2" 127.0.0.2 --rdzv-endpoint "127.0.0.1:$PORT" --nodes "$nodes" \
		--grace 2 "$@" -- sh -c "$hold"
}

# a rank process of the member's node (its worker stage, or COMMAND once started)
member_rank_pid() {
	pgrep -P "${AGENTS[1]}" | head -1
}

# record WHAT SECONDS BOUND STATUSES: one line per injected fault, summed up
# at the end (the soak's figures)
record() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$T/times"
	echo "fault: $1: ended in $2 s (bound $3 s), statuses $4"
}

# expect DIR WHAT BOUND COORD_STATUS MEMBER_STATUS TEXT
expect() {
	local dir=$1 what=$2 bound=$3 want0=$4 want1=$5 text=$6 took
	wait "${AGENTS[0]}"
	local rc0=$?
	kill -CONT "${AGENTS[1]}" 2>/dev/null # a stopped member wakes once the job is over
	wait "${AGENTS[1]}"
	local rc1=$?
	took=$(elapsed_since "$start") # until the last agent of the job is gone
	AGENTS=()
	record "$what" "$took" "$bound" "$rc0 $rc1"
	assert_eq "$rc0 $rc1" "$want0 $want1" "$what: statuses (coordinator, member)"
	less_than "$took" "$bound" || fail "$what: took ${took}s, bound ${bound}s"
	cat "$dir"/agent.* >"$dir/all"
	assert_contains "$dir/all" "$text" "$what: message"
	sleep 0.3 # a SIGKILLed agent's ranks get their parent-death signal
	assert_no_leftovers "$what"
}

# start_ns_pair DIR NODES ARGS...: the same pair, the coordinator in
# namespace node 1, the member in node 2, the member's link up
start_ns_pair() {
	local dir=$1 nodes=$2 n ep
	shift 2
	mkdir -p "$dir"
	ip link set "${NODE_LINKS[1]}" up
	ep="$NET.11:$(free_port)"
	for n in 1 2; do
		OUT="$dir" env RLAUNCH_TEST_MARK="$MARK" nsenter --net="/run/netns/${NS[$((n - 1))]}" \
			"$RLAUNCH" --rdzv-endpoint "$ep" --nodes "$nodes" --grace 2 "$@" -- sh -c "$hold" \
			>"$dir/agent.$n" 2>&1 &
		AGENTS+=($!)
		[ "$n" = 1 ] && sleep 0.2 # the coordinator listens first
	done
}
cut_member_link() {
	ip link set "${NODE_LINKS[1]}" down
}

LINKS=no
if [ "$(id -u)" = 0 ]; then
	netns_nodes 2
	LINKS=yes
else
	echo "note: not root: the link-down cases need network namespaces and were not run"
fi

for i in $(seq "$ITER"); do
	d="$T/$i"

	# --- rendezvous: the member joined, the third node never comes --------------
	start_pair "$d/rdzv-kill" 3 --rdzv-timeout 3
	sleep 0.5; kill -KILL "${AGENTS[1]}"; start=$(now)
	expect "$d/rdzv-kill" "rendezvous, agent SIGKILL" 5 75 137 "agents joined"
	start_pair "$d/rdzv-stop" 3 --rdzv-timeout 3
	sleep 0.5; kill -STOP "${AGENTS[1]}"; start=$(now)
	expect "$d/rdzv-stop" "rendezvous, agent SIGSTOP" 5 75 75 "agents joined"

	# --- health check: long enough to be hit ----------------------------------------
	check=(--check ofi --check-bytes 33554432 --check-iters 200 --check-timeout 30)
	start_pair "$d/check-rank" 2 "${check[@]}"
	wait_files 1 "$d/check-rank/none" 1.5 # let the check start
	kill -KILL "$(member_rank_pid)"; start=$(now)
	expect "$d/check-rank" "check, rank SIGKILL" 5 137 137 "rank      : 2"
	start_pair "$d/check-agent" 2 "${check[@]}"
	wait_files 1 "$d/check-agent/none" 1.5
	kill -KILL "${AGENTS[1]}"; start=$(now)
	expect "$d/check-agent" "check, agent SIGKILL" 5 74 137 "lost contact with node 1"
	start_pair "$d/check-stop" 2 "${check[@]}"
	wait_files 1 "$d/check-stop/none" 1.5
	kill -STOP "${AGENTS[1]}"; start=$(now)
	expect "$d/check-stop" "check, agent SIGSTOP" 15 74 74 "has been silent"

	# --- running ------------------------------------------------------------------------
	for fault in rank agent stop; do
		start_pair "$d/run-$fault" 2
		wait_files 4 "$d/run-$fault/ready.*" 20 || die "ranks never became ready"
		case $fault in
		rank) kill -KILL "$(member_rank_pid)" ;;
		agent) kill -KILL "${AGENTS[1]}" ;;
		stop) kill -STOP "${AGENTS[1]}" ;;
		esac
		start=$(now)
		case $fault in
		rank) expect "$d/run-rank" "running, rank SIGKILL" 5 137 137 "signal SIGKILL (9)" ;;
		agent) expect "$d/run-agent" "running, agent SIGKILL" 5 74 137 "lost contact with node 1" ;;
		stop) expect "$d/run-stop" "running, agent SIGSTOP" 15 74 74 "has been silent" ;;
		esac
	done

	# --- a node's link goes down (network namespaces), in each stage ----------------
	[ "$LINKS" = yes ] || continue
	start_ns_pair "$d/link-rdzv" 3 --rdzv-timeout 3
	sleep 0.8; cut_member_link; start=$(now)
	expect "$d/link-rdzv" "rendezvous, link down" 9 75 75 "agents joined" # member: --rdzv-timeout + 5 s
	start_ns_pair "$d/link-check" 2 "${check[@]}"
	wait_files 1 "$d/link-check/none" 1.5
	cut_member_link; start=$(now)
	expect "$d/link-check" "check, link down" 16 74 74 "has been silent"
	start_ns_pair "$d/link-run" 2
	wait_files 4 "$d/link-run/ready.*" 20 || die "ranks never became ready across namespaces"
	cut_member_link; start=$(now)
	expect "$d/link-run" "running, link down" 16 74 74 "has been silent"
done

# per fault: how many times, reaction time min / median / max, statuses seen
echo "summary over $ITER iteration(s):"
sort -t "$(printf '\t')" -k1,1 -k2,2n "$T/times" | awk -F '\t' '
	function flush() { if (n) printf "  %-28s n=%-4d min %6.2f s  median %6.2f s  max %6.2f s  bound %s s  statuses %s\n",
		key, n, v[1], v[int((n + 1) / 2)], v[n], bound, st }
	$1 != key { flush(); key = $1; n = 0; st = "" }
	{ v[++n] = $2; bound = $3; if (index(st, "[" $4 "]") == 0) st = st "[" $4 "]" }
	END { flush() }'
pass

# shellcheck shell=bash
# Shared helpers for rlaunch's integration tests. Source it first.
#
# Every test runs rlaunch through `rl`, which tags rlaunch and everything it
# starts with a marker variable unique to this test. At exit the test fails
# if any process still carries the marker (the "no process left behind"
# promise, checked in the process table), kills those by PID, and removes its
# temporary directory.
set -u

: "${RLAUNCH:?RLAUNCH must point at the rlaunch binary}"
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/rlaunch-${TEST_NAME}.XXXXXX")
MARK="${TEST_NAME}-$$-${RANDOM}"
FAILED=0

# PIDs of live processes whose environment carries this test's marker.
marked_pids() {
	# zombies have no environment, so anything listed is alive
	grep -lzx "RLAUNCH_TEST_MARK=$MARK" /proc/[0-9]*/environ 2>/dev/null |
		sed -e 's|^/proc/||' -e 's|/environ$||' | grep -vx "self\|thread-self" || true
}

# Tests may set EXTRA_CLEANUP to a command run first at exit (e.g. taking a
# simulated cluster down).
EXTRA_CLEANUP=""

cleanup() {
	local pids
	if [ -n "$EXTRA_CLEANUP" ]; then
		eval "$EXTRA_CLEANUP"
	fi
	pids=$(marked_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
# a test stopped from outside (ctest's timeout, Ctrl-C) still cleans up
trap 'exit 143' TERM
trap 'exit 130' INT

fail() {
	echo "FAIL: $*" >&2
	FAILED=1
}

# Stop the test at once.
die() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	if [ "$FAILED" != 0 ]; then
		echo "$TEST_NAME: FAILED"
		exit 1
	fi
	echo "$TEST_NAME: ok"
	exit 0
}

rl() {
	env RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" "$@"
}

# rl_bg ARGS...: start rlaunch in the background; its PID is in RL_PID
# (not a subshell's, so signals sent to it reach rlaunch itself).
rl_bg() {
	env RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" "$@" &
	# shellcheck disable=SC2034 # read by the tests
	RL_PID=$!
}

# A TCP port for this test's rendezvous (tests run one at a time; a clash
# with something else on the machine is unlikely and fails loudly).
free_port() {
	echo $((20000 + (RANDOM % 12000))) # below the ephemeral range (32768-)
}

# agent OUTFILE ADDR ARGS...: one rlaunch agent on 127.0.0.x in the
# background (stdout+stderr to OUTFILE); PIDs collect in AGENTS.
AGENTS=()
agent() {
	local out=$1 addr=$2
	shift 2
	env RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" --node-addr "$addr" "$@" >"$out" 2>&1 &
	AGENTS+=($!)
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT (10 s at most).
wait_listen() {
	local _
	for _ in $(seq 200); do
		[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_agents: wait for every agent; their exit statuses go to RCS.
RCS=()
wait_agents() {
	local pid
	RCS=()
	for pid in "${AGENTS[@]}"; do
		wait "$pid"
		RCS+=($?)
	done
	AGENTS=()
}

# netns_nodes N: N "nodes" as network namespaces on a bridge of their own,
# node i at $NET.(10+i) on its eth0; names unique to this run. Sets NS (the
# namespace names), BR, NET and NODE_LINKS (the bridge side of each node's
# veth, to cut a node off), and takes everything down at exit.
NS=()
NODE_LINKS=()
# shellcheck disable=SC2317 # run from the EXIT trap
teardown_netns_nodes() {
	local ns
	for ns in "${NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	# a namespace lives on while sockets of its own still retransmit (a cut
	# link): delete each veth from this side, which removes both of its ends
	for ns in "${NODE_LINKS[@]}"; do
		ip link del "$ns" 2>/dev/null
	done
	[ -n "${BR:-}" ] && ip link del "$BR" 2>/dev/null
	return 0
}
netns_nodes() {
	local n=$1 i ns tag
	tag=$(printf '%04x' $((RANDOM % 65536)))
	BR="rlb$tag"
	NET="10.232.$((RANDOM % 200 + 20))"
	EXTRA_CLEANUP=teardown_netns_nodes
	ip link add "$BR" type bridge || die "cannot create a bridge"
	ip link set "$BR" up
	for i in $(seq "$n"); do
		ns="rln$tag-$i"
		NS+=("$ns")
		ip netns add "$ns"
		ip link add "rlv$tag$i" type veth peer name "rlp$tag$i"
		ip link set "rlp$tag$i" netns "$ns"
		ip link set "rlv$tag$i" master "$BR" up
		NODE_LINKS+=("rlv$tag$i")
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "rlp$tag$i" name eth0
		ip -n "$ns" addr add "$NET.$((10 + i))/24" dev eth0
		ip -n "$ns" link set eth0 up
	done
}

now() { date +%s.%N; }
elapsed_since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
# less_than A B: A < B for decimals
less_than() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

assert_eq() { # actual expected what
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

assert_contains() { # file needle what
	grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $1:"; sed 's/^/    | /' "$1" >&2; }
}

assert_not_contains() {
	if grep -qF -- "$2" "$1"; then fail "$3: '$2' unexpectedly in $1"; fi
}

# The process table holds nothing of this test's jobs.
assert_no_leftovers() {
	local pids
	pids=$(marked_pids)
	if [ -n "$pids" ]; then
		fail "${1:-job} left processes behind:"
		# shellcheck disable=SC2086,SC2046
		ps -o pid,ppid,pgid,stat,cmd -p $(echo $pids | tr ' ' ',') >&2
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
	fi
}

# wait_files COUNT GLOB TIMEOUT_S: wait until COUNT files match GLOB.
wait_files() {
	local count=$1 glob=$2 deadline
	deadline=$(awk -v a="$(now)" -v b="$3" 'BEGIN { printf "%.3f", a + b }')
	while less_than "$(now)" "$deadline"; do
		# shellcheck disable=SC2086
		[ "$(ls $glob 2>/dev/null | wc -l)" -ge "$count" ] && return 0
		sleep 0.02
	done
	return 1
}

# sim_cluster_up NODES CPUS GPUS: bring up the simulated Slurm cluster
# (tests/cluster/slurm-sim.sh) and export its client environment. One
# simulated cluster at a time on this machine: when another test has it up,
# wait (up to 60 s) for it to go down. Sets SIM (the script) and SIM_DOWN, a
# command for EXTRA_CLEANUP that takes the cluster down only while it is
# still the one this test started (sim_is_ours). Skips (77) without root or
# Slurm.
SIM_PIDFILE=${SIM_BASE:-/tmp/rlaunch-slurm-sim}/run/slurmctld.pid
sim_is_ours() { [ "$(cat "$SIM_PIDFILE" 2>/dev/null)" = "$SIM_CTLD_PID" ]; }
sim_cluster_up() {
	local tool deadline
	SIM="$(cd "$(dirname "${BASH_SOURCE[0]}")/../cluster" && pwd)/slurm-sim.sh"
	for tool in slurmctld slurmd srun munged ip; do
		command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
	done
	[ "$(id -u)" = 0 ] || { echo "SKIP: the simulated cluster needs root"; exit 77; }
	export SIM_ETC_HOSTS=${SIM_ETC_HOSTS:-1} # the slurm provider finds the first node by name
	deadline=$((SECONDS + 60))
	while ! "$SIM" up "$@" >"$T/sim.log" 2>&1; do
		grep -q "already up" "$T/sim.log" || { cat "$T/sim.log" >&2; die "the simulated cluster did not come up"; }
		[ "$SECONDS" -lt "$deadline" ] || die "the simulated cluster stayed up (another test?) for 60 s"
		sleep 2
	done
	SIM_CTLD_PID=$(cat "$SIM_PIDFILE")
	SIM_DOWN="sim_is_ours && \"$SIM\" down >/dev/null 2>&1"
	EXTRA_CLEANUP=$SIM_DOWN
	eval "$("$SIM" env)"
}

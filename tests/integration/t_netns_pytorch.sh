#!/bin/bash
# Two "nodes" as network namespaces on a bridge, each with its own address,
# rendezvous over --rdzv tcp, and a real client across them: PyTorch's gloo
# all-reduce with init_method="env://", 2 nodes x 2 ranks, sum verified.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import torch.distributed' 2>/dev/null || { echo "SKIP: $PY cannot import torch"; exit 77; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

netns_nodes 2

export RLAUNCH_TOKEN="netns-$RANDOM$RANDOM"
EP="$NET.11:$(free_port)"
# on each node: rlaunch finds its own address through the default interface
# filter (^docker,lo,veth picks eth0)
on_node() { # node-number output-file rlaunch-args...
	local i=$1 out=$2
	shift 2
	env RLAUNCH_TEST_MARK="$MARK" nsenter --net="/run/netns/${NS[$((i - 1))]}" \
		"$RLAUNCH" "$@" >"$out" 2>&1 &
	AGENTS+=($!)
}
for i in 2 1; do
	on_node "$i" "$T/node$i" --rdzv-endpoint "$EP" --nodes 2 --gpus-per-node 2 --master-port 0 \
		--check ofi --check-bytes 1048576 -- "$PY" "$ROOT/examples/allreduce_gloo.py"
done
wait_agents
assert_eq "${RCS[*]}" "0 0" "both agents exit 0"
cat "$T/node1" "$T/node2" > "$T/all"
assert_contains "$T/all" "health check: GO (2 nodes, 4 ranks)" "the check passed across namespaces first"
cat "$T/node1" "$T/node2" > "$T/all"
for r in 0 1 2 3; do
	assert_contains "$T/all" "[rank$r]:rank $r/4: all_reduce sum 10.0 ok" "rank $r verified the sum"
done
assert_contains "$T/node1" "[rank0]:" "node 1 ($NET.11, the lower address) holds rank 0"
assert_contains "$T/node2" "[rank2]:" "node 2 holds ranks 2-3"
assert_no_leftovers "gloo across namespaces"

# a rank on the second node dies mid-job: both nodes come down with its status
for i in 1 2; do
	on_node "$i" "$T/fail$i" --rdzv-endpoint "$EP" --nodes 2 --gpus-per-node 2 --master-port 0 \
		--grace 3 --env FAIL_RANK=3 -- "$PY" "$ROOT/examples/allreduce_gloo.py"
done
wait_agents
assert_eq "${RCS[*]}" "13 13" "both agents exit with the failing rank's status"
assert_contains "$T/fail1" "rank      : 3 (local_rank: 1)" "the coordinator names rank 3"
assert_no_leftovers "gloo failure across namespaces"
pass

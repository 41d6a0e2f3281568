#!/bin/bash
# Open MPI's mpirun starts the agents; the pmix provider finds them. Two
# agents on this machine get their own addresses through MPMD (':') syntax.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

command -v mpirun >/dev/null || { echo "SKIP: mpirun is not installed (openmpi-bin)"; exit 77; }
export CUDA_VISIBLE_DEVICES=0,1
unset RLAUNCH_TOKEN # PMIx rank 0 makes the secret and shares it

mpirun_rl() { # rlaunch options shared by both agents, then -- COMMAND
	env RLAUNCH_TEST_MARK="$MARK" mpirun --allow-run-as-root --oversubscribe \
		-np 1 "$RLAUNCH" --node-addr 127.0.0.10 "$@" : -np 1 "$RLAUNCH" --node-addr 127.0.0.9 "$@"
}

mkdir "$T/ok"
OUT="$T/ok" mpirun_rl -- sh -c 'env > "$OUT/env.$RANK"' >"$T/ok/out" 2>"$T/ok/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/ok/err" >&2; fail "mpirun rlaunch: exit $rc"; }
for r in 0 1 2 3; do
	f="$T/ok/env.$r"
	[ -f "$f" ] || { fail "rank $r did not run"; continue; }
	assert_contains "$f" "WORLD_SIZE=4" "WORLD_SIZE"
	assert_contains "$f" "MASTER_ADDR=127.0.0.9" "the lower address is node 0"
	assert_contains "$f" "NODE_RANK=$((r / 2))" "NODE_RANK of rank $r"
	assert_not_contains "$f" "PMIX_RANK=" "PMIx identity not passed on"
	assert_not_contains "$f" "OMPI_COMM_WORLD_RANK=" "MPI rank not passed on"
done
assert_no_leftovers "mpirun"

mpirun_rl --grace 2 -- sh -c '[ "$RANK" = 1 ] && exit 6; exec sleep 60' >"$T/fail.out" 2>"$T/fail.err"
rc=$?
[ "$rc" != 0 ] || fail "mpirun reported success for a failed job"
assert_contains "$T/fail.err" "rank      : 1 (local_rank: 1)" "report names rank 1"
assert_contains "$T/fail.err" "status    : exit code 6" "report gives its status"
assert_no_leftovers "mpirun failure"
pass

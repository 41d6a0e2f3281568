#!/bin/bash
# A real Slurm cluster simulated in network namespaces (tests/cluster/
# slurm-sim.sh: slurmctld, munge, one slurmd per node namespace, fake GPUs
# through gres): srun -N2 --ntasks-per-node=1 rlaunch, as on a cluster.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

sim_cluster_up 2 2 4
export RLAUNCH_TOKEN="slurm-test-$RANDOM$RANDOM"

srun_rl() { # srun options ... -- rlaunch options ...
	local sargs=()
	while [ "$1" != "--" ]; do sargs+=("$1"); shift; done
	shift
	env RLAUNCH_TEST_MARK="$MARK" srun "${sargs[@]}" "$RLAUNCH" "$@"
}

# --- the slurm provider: the agent with SLURM_PROCID=0 serves ----------------------
mkdir "$T/slurm"
OUT="$T/slurm" srun_rl -N2 --ntasks-per-node=1 --gpus-per-node=4 --mpi=none -- \
	--rdzv slurm -- sh -c 'env > "$OUT/env.$RANK"; echo "rank $RANK on $(hostname)"' \
	>"$T/slurm/out" 2>"$T/slurm/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/slurm/err" >&2; fail "srun rlaunch --rdzv slurm: exit $rc"; }
for r in 0 1 2 3 4 5 6 7; do
	f="$T/slurm/env.$r"
	[ -f "$f" ] || { fail "rank $r did not run"; continue; }
	assert_contains "$f" "WORLD_SIZE=8" "WORLD_SIZE"
	assert_contains "$f" "MASTER_ADDR=10.231.7.11" "n1 has the lowest address"
	assert_contains "$f" "NODE_RANK=$((r / 4))" "NODE_RANK of rank $r"
	assert_contains "$f" "LOCAL_RANK=$((r % 4))" "LOCAL_RANK is the physical GPU id"
	assert_not_contains "$f" "CUDA_VISIBLE_DEVICES=" "reset unsets CUDA_VISIBLE_DEVICES"
done
assert_contains "$T/slurm/out" "[rank0]:rank 0 on n1" "rank 0 on n1"
assert_contains "$T/slurm/out" "[rank7]:rank 7 on n2" "rank 7 on n2"
assert_no_leftovers "slurm provider"

# --- the pmix provider: srun --mpi=pmix, node infos through PMIx, no token given ---
mkdir "$T/pmix"
OUT="$T/pmix" env -u RLAUNCH_TOKEN RLAUNCH_TEST_MARK="$MARK" srun -N2 --ntasks-per-node=1 \
	--gpus-per-node=2 --mpi=pmix "$RLAUNCH" -- sh -c 'env > "$OUT/env.$RANK"' \
	>"$T/pmix/out" 2>"$T/pmix/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/pmix/err" >&2; fail "srun --mpi=pmix rlaunch: exit $rc"; }
for r in 0 1 2 3; do
	f="$T/pmix/env.$r"
	[ -f "$f" ] || { fail "pmix: rank $r did not run"; continue; }
	assert_contains "$f" "WORLD_SIZE=4" "pmix: WORLD_SIZE"
	assert_contains "$f" "MASTER_ADDR=10.231.7.11" "pmix: MASTER_ADDR"
	assert_contains "$f" "NODE_RANK=$((r / 2))" "pmix: NODE_RANK of rank $r"
	assert_not_contains "$f" "PMIX_RANK=" "pmix: the agent's PMIx identity is not passed on"
done
assert_no_leftovers "pmix provider"

# --- the health check under srun --mpi=pmix: GO, then a provoked NO-GO -------------
mkdir "$T/check"
OUT="$T/check" env -u RLAUNCH_TOKEN RLAUNCH_TEST_MARK="$MARK" srun -N2 --ntasks-per-node=1 \
	--gpus-per-node=2 --mpi=pmix "$RLAUNCH" --check ofi --check-bytes 262144 \
	-- sh -c 'touch "$OUT/started.$RANK"' >"$T/check/out" 2>"$T/check/err"
assert_eq "$?" 0 "check under srun --mpi=pmix"
assert_contains "$T/check/err" "health check: GO (2 nodes, 4 ranks)" "GO across the simulated nodes"
assert_contains "$T/check/err" "10.231.7.12" "the table lists n2"
assert_eq "$(ls "$T"/check/started.* | wc -l)" 4 "COMMAND ran after GO"
rm -f "$T"/check/started.*
OUT="$T/check" env -u RLAUNCH_TOKEN RLAUNCH_TEST_CHECK_CORRUPT=2 RLAUNCH_TEST_MARK="$MARK" \
	srun -N2 --ntasks-per-node=1 --gpus-per-node=2 --mpi=pmix "$RLAUNCH" --check ofi \
	--check-bytes 262144 -- sh -c 'touch "$OUT/started.$RANK"' >"$T/check/out2" 2>"$T/check/err2"
assert_eq "$?" 78 "provoked wrong data under srun"
grep -E "10\.231\.7\.12 .* rank [23]: wrong data at index" "$T/check/err2" >/dev/null ||
	fail "the table blames n2 ($(grep 10.231.7.12 "$T/check/err2"))"
[ -z "$(ls "$T"/check/started.* 2>/dev/null)" ] || fail "COMMAND started after NO-GO under srun"
for hook in "INIT_FAIL=3:rank 3: backend could not start" "HANG=1:1 rank never reported: 1 (n1)"; do
	OUT="$T/check" env -u RLAUNCH_TOKEN "RLAUNCH_TEST_CHECK_${hook%%:*}" RLAUNCH_TEST_MARK="$MARK" \
		srun -N2 --ntasks-per-node=1 --gpus-per-node=2 --mpi=pmix "$RLAUNCH" --check ofi \
		--check-bytes 262144 --check-timeout 2 -- sh -c 'touch "$OUT/started.$RANK"' \
		>"$T/check/out3" 2>"$T/check/err3"
	assert_eq "$?" 78 "${hook%%=*} under srun"
	assert_contains "$T/check/err3" "${hook#*:}" "${hook%%=*} under srun: named"
	[ -z "$(ls "$T"/check/started.* 2>/dev/null)" ] || fail "COMMAND started after ${hook%%=*}"
done
assert_no_leftovers "check under srun"

# --- the slurm provider without a token: agents prove through MUNGE they are one user
mkdir "$T/munge"
OUT="$T/munge" env -u RLAUNCH_TOKEN RLAUNCH_MUNGE_SOCKET="/tmp/rlaunch-slurm-sim/munge/munge.sock" \
	RLAUNCH_TEST_MARK="$MARK" srun -N2 --ntasks-per-node=1 --gpus-per-node=1 --mpi=none \
	"$RLAUNCH" --rdzv slurm -- sh -c 'echo ok > "$OUT/ran.$RANK"' >"$T/munge/out" 2>"$T/munge/err"
rc=$?
[ "$rc" = 0 ] || { cat "$T/munge/err" >&2; fail "srun rlaunch with MUNGE: exit $rc"; }
assert_eq "$(cat "$T"/munge/ran.* 2>/dev/null | wc -l)" 2 "both ranks ran"
# a munged that does not answer: a clear refusal before anything starts
env -u RLAUNCH_TOKEN RLAUNCH_MUNGE_SOCKET=/nonexistent/munge.sock RLAUNCH_TEST_MARK="$MARK" \
	srun -N2 --ntasks-per-node=1 --gpus-per-node=1 --mpi=none "$RLAUNCH" --rdzv slurm -- true \
	>"$T/munge/out2" 2>"$T/munge/err2"
assert_eq "$?" 2 "no token and no MUNGE"
assert_contains "$T/munge/err2" "MUNGE is unusable" "says MUNGE could not be used"
assert_no_leftovers "MUNGE"

# --- a rank on the second node fails: srun reports its status ------------------------
OUT="$T" srun_rl -N2 --ntasks-per-node=1 --gpus-per-node=2 --mpi=none -- \
	--rdzv slurm --grace 2 -- sh -c '[ "$RANK" = 3 ] && exit 5; exec sleep 60' \
	>"$T/fail.out" 2>"$T/fail.err"
assert_eq "$?" 5 "srun's status is the failing rank's"
assert_contains "$T/fail.err" "rank      : 3 (local_rank: 1)" "report names rank 3"
assert_contains "$T/fail.err" "host      : n2" "report names host n2"
assert_no_leftovers "slurm failure"

# --- several tasks per node are refused, with the fix in the message -----------------
srun_rl -N2 --ntasks-per-node=2 --mpi=none -- --rdzv slurm -- true >"$T/multi.out" 2>"$T/multi.err"
assert_eq "$?" 2 "several agents per node"
assert_contains "$T/multi.err" "use srun --ntasks-per-node=1" "says how to fix it"
assert_no_leftovers "tasks per node"
pass

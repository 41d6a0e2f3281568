#!/bin/bash
# launchers/rlaunch.sbatch under a real `sbatch --wait` on the simulated Slurm
# cluster (tests/cluster/slurm-sim.sh: 2 nodes in network namespaces, fake GPUs
# through gres): the PyTorch gloo job across both nodes with PMIx and with the
# slurm provider, a failing rank's status as the job's exit status, and the Ray
# worker container mode through a stand-in for `docker` (there is no container
# engine here) that does what matters about `docker exec`: the command gets the
# container's environment and the -e variables only, and starts in /.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPT="$ROOT/launchers/rlaunch.sbatch"
PY=/usr/bin/python3
for tool in slurmctld slurmd srun sbatch munged ip; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: the simulated cluster needs root"; exit 77; }
"$PY" -c 'import torch.distributed' 2>/dev/null || { echo "SKIP: $PY cannot import torch"; exit 77; }

sim_cluster_up 2 2 4
# (and the files the docker stand-in put in the "containers": the host's /tmp)
EXTRA_CLEANUP="$SIM_DOWN; remove_copies"
# shellcheck disable=SC2317 # run from the EXIT trap
remove_copies() {
	local f
	while read -r f; do rm -f "$f" "$f.pid"; done < <(cat "$T/copied" 2>/dev/null)
}
unset RLAUNCH_TOKEN

# submit DIR ARGS...: sbatch --wait from DIR (the submit directory); output in
# DIR/job.out. sbatch passes its environment on: the marker reaches every rank.
submit() {
	local dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && RLAUNCH_TEST_MARK="$MARK" exec sbatch --wait -N2 --gpus-per-node=2 \
		-o "$dir/job.out" "$@") >"$dir/sbatch.out" 2>&1
	local rc=$?
	sim_is_ours || die "the simulated cluster went away during the job (another test took it down?)"
	return "$rc"
}

# --- PMIx (the simulated cluster has the plugin): gloo across both nodes -------------
submit "$T/pmix" "$SCRIPT" --rlaunch "$RLAUNCH" --gpus-per-node 2 -- "$PY" "$ROOT/examples/allreduce_gloo.py"
rc=$?
[ "$rc" = 0 ] || { cat "$T/pmix/sbatch.out" "$T/pmix/job.out" >&2; fail "pmix: sbatch --wait exit $rc"; }
jobid=$(sed -n 's/^Submitted batch job //p' "$T/pmix/sbatch.out")
for r in 0 1 2 3; do
	assert_contains "$T/pmix/job.out" "[rank$r]:rank $r/4: all_reduce sum 10.0 ok" "pmix: rank $r"
	assert_contains "$T/pmix/rlaunch-$jobid/rank$r.log" "rank $r/4: all_reduce sum 10.0 ok" "pmix: rank $r's log"
done
assert_contains "$T/pmix/job.out" "rendezvous pmix" "pmix: chosen because srun lists it"
assert_contains "$T/pmix/job.out" "rlaunch.sbatch: rank logs: $T/pmix/rlaunch-$jobid/rank<RANK>.log" "pmix: says where the logs are"
assert_contains "$T/pmix/job.out" "finished with exit status 0; rank logs: $T/pmix/rlaunch-$jobid/" "pmix: and again at the end"
assert_no_leftovers "pmix job"

# --- the slurm provider (--mpi none): the generated job secret protects it ---------
submit "$T/slurm" "$SCRIPT" --rlaunch "$RLAUNCH" --mpi none --gpus-per-node 2 \
	--report-dir "$T/slurm/reports" -- "$PY" "$ROOT/examples/allreduce_gloo.py"
rc=$?
[ "$rc" = 0 ] || { cat "$T/slurm/sbatch.out" "$T/slurm/job.out" >&2; fail "slurm: sbatch --wait exit $rc"; }
for r in 0 1 2 3; do
	assert_contains "$T/slurm/job.out" "[rank$r]:rank $r/4: all_reduce sum 10.0 ok" "slurm: rank $r"
	[ -s "$T/slurm/reports/rank$r.log" ] || fail "slurm: no $T/slurm/reports/rank$r.log"
done
assert_contains "$T/slurm/job.out" "rendezvous slurm" "slurm: --mpi none"
assert_no_leftovers "slurm-provider job"

# --- a rank on the second node fails: its status is the job's ------------------------
submit "$T/fail" "$SCRIPT" --rlaunch "$RLAUNCH" --gpus-per-node 2 --rlaunch-opt=--grace=2 -- \
	sh -c '[ "$RANK" = 3 ] && exit 5; exec sleep 60'
assert_eq "$?" 5 "sbatch --wait: the failing rank's status"
assert_contains "$T/fail/job.out" "rank      : 3 (local_rank: 1)" "failure report names rank 3"
assert_contains "$T/fail/job.out" "host      : n2" "failure report names n2"
assert_contains "$T/fail/job.out" "finished with exit status 5" "the script says so"
assert_no_leftovers "failing job"

# --- inside "Ray worker containers" (docker exec stand-in) ---------------------------
mkdir -p "$T/bin"
cat >"$T/bin/docker" <<'EOF'
#!/bin/bash
# Stand-in for the docker CLI, test only: `cp` and `exec` into a running
# container named ray-worker whose file system is the host's.
set -u
case ${1:-} in
# the "containers" of both nodes share the host's /tmp: copy under a name of
# our own, then rename, or the two nodes' copies race (cp: File exists)
cp) dst=${3#ray-worker:}
	echo "$dst" >>"$FAKE_COPIED" && cp "$2" "$dst.$$" && exec mv -f "$dst.$$" "$dst" ;;
exec)
	shift
	keep=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
		"HOSTNAME=$(hostname)" "RLAUNCH_TEST_MARK=$RLAUNCH_TEST_MARK")
	# what the Ray-on-Slurm script's docker run gave the container
	[ -n "${FAKE_CONTAINER_ENV:-}" ] && keep+=("$FAKE_CONTAINER_ENV")
	while [ $# -gt 0 ]; do
		case $1 in
		-e) [ -n "${!2+x}" ] && keep+=("$2=${!2}"); shift 2 ;;
		-*) echo "docker stand-in: unexpected exec option $1" >&2; exit 125 ;;
		*) break ;;
		esac
	done
	[ "$1" = ray-worker ] || { echo "Error response from daemon: No such container: $1" >&2; exit 1; }
	shift
	cd / && exec env -i "${keep[@]}" "$@" ;;
*) echo "docker stand-in: unexpected command ${1:-}" >&2; exit 125 ;;
esac
EOF
chmod +x "$T/bin/docker"
mkdir -p "$T/ray"
export FAKE_COPIED="$T/copied"
# the Ray containers got the job's GPUs as CUDA_VISIBLE_DEVICES (as a Ray
# launch script may pass them); the script itself runs inside the Ray job
PATH="$T/bin:$PATH" FAKE_CONTAINER_ENV=CUDA_VISIBLE_DEVICES=0,1 submit "$T/ray" --wrap \
	"bash '$SCRIPT' --container ray --ray-container ray-worker --rlaunch '$RLAUNCH' -- $PY $ROOT/examples/allreduce_gloo.py"
rc=$?
[ "$rc" = 0 ] || { cat "$T/ray/sbatch.out" "$T/ray/job.out" >&2; fail "ray: sbatch --wait exit $rc"; }
jobid=$(sed -n 's/^Submitted batch job //p' "$T/ray/sbatch.out")
for r in 0 1 2 3; do
	assert_contains "$T/ray/job.out" "[rank$r]:rank $r/4: all_reduce sum 10.0 ok" "ray: rank $r"
	[ -s "$T/ray/rlaunch-$jobid/rank$r.log" ] || fail "ray: no rank$r.log"
done
assert_contains "$T/ray/job.out" "(inside the containers 'ray-worker')" "ray: says where the logs are"
assert_no_leftovers "ray-container job"

# From outside the Ray job: the Ray-on-Slurm job (here a job that only sleeps)
# holds the nodes; rlaunch.sbatch is run with SLURM_JOB_ID pointing at it, its
# steps overlap that job's. What the ranks see inside the containers: the
# node's hostname and address (host network), LOCAL_RANK the physical id from
# the container's CUDA_VISIBLE_DEVICES (reset), the container's working directory.
rayjob=$(sbatch --parsable -N2 --gpus-per-node=2 -o /dev/null --wrap "sleep 300") || die "cannot submit the Ray job"
for _ in $(seq 100); do
	[ "$(squeue -h -j "$rayjob" -o %T 2>/dev/null)" = RUNNING ] && break
	sleep 0.2
done
mkdir -p "$T/ray2"
(cd "$T/ray2" && env -u SLURM_JOB_NUM_NODES -u SLURM_NNODES PATH="$T/bin:$PATH" SLURM_JOB_ID="$rayjob" \
	FAKE_CONTAINER_ENV=CUDA_VISIBLE_DEVICES=2,3 RLAUNCH_TEST_MARK="$MARK" \
	bash "$SCRIPT" --container ray --ray-container ray-worker --rlaunch "$RLAUNCH" -- \
	sh -c 'echo rank=$RANK host=$(hostname) master=$MASTER_ADDR local=$LOCAL_RANK cvd=${CUDA_VISIBLE_DEVICES-unset} pwd=$PWD') \
	>"$T/ray2/job.out" 2>&1
rc=$?
sim_is_ours || die "the simulated cluster went away during the job (another test took it down?)"
[ "$rc" = 0 ] || { cat "$T/ray2/job.out" >&2; fail "ray, attached to job $rayjob: exit $rc"; }
for r in 0 1 2 3; do
	assert_contains "$T/ray2/job.out" \
		"[rank$r]:rank=$r host=n$((r / 2 + 1)) master=10.231.7.11 local=$((r % 2 + 2)) cvd=unset pwd=/" "ray2: rank $r"
done
[ -s "$T/ray2/rlaunch-$rayjob/rank0.log" ] || fail "ray2: no rank0.log in $T/ray2/rlaunch-$rayjob"
scancel "$rayjob"
assert_no_leftovers "ray-container environment"
pass

#!/bin/bash
# launchers/rlaunch.sbatch without a cluster or a container engine: its
# argument handling (one line on stderr, exit 2), the exact commands
# --print-commands shows for each container mode with the job's SLURM_*
# variables faked, and that running it executes exactly those commands (through
# stand-ins for srun and enroot that record their arguments), with the exit
# status of the rlaunch step and a Ray-mode stop on SIGTERM.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPT="$ROOT/launchers/rlaunch.sbatch"
RL=$(cd "$(dirname "$RLAUNCH")" && pwd)/$(basename "$RLAUNCH")

# The script is not a *.sh, so the project-wide lint does not see it: lint it here.
if command -v shellcheck >/dev/null; then
	(cd "$ROOT" && shellcheck -x -P SCRIPTDIR launchers/rlaunch.sbatch) >"$T/lint" 2>&1 ||
		{ cat "$T/lint" >&2; fail "shellcheck launchers/rlaunch.sbatch"; }
fi

# Stand-ins, test only: srun answers --mpi=list and records every other call
# (one line per call, arguments separated by \x1f) with the job secret it got;
# enroot records its calls. The rlaunch step (it has --log-dir) exits
# $FAKE_MAIN_RC, or waits for SIGTERM when FAKE_MAIN_WAIT is set.
mkdir -p "$T/bin" "$T/submit"
cat >"$T/bin/srun" <<'EOF'
#!/bin/bash
if [ "$*" = "--mpi=list" ]; then
	printf 'MPI plugin types are...\n\tnone\n\tpmi2\n'
	[ -n "${FAKE_PMIX:-}" ] && printf '\tpmix\nspecific pmix plugin versions available: pmix_v4\n'
	exit 0
fi
{ printf 'srun'; printf '\x1f%s' "$@"; printf '\n'; } >>"$FAKE_CALLS"
printf '%s\n' "${RLAUNCH_TOKEN-unset}" >>"$FAKE_TOKENS"
case " $* " in
*" docker pull "*) exit "${FAKE_PULL_RC:-0}" ;;
*" --log-dir "*)
	if [ -n "${FAKE_MAIN_WAIT:-}" ]; then
		trap 'kill "$sp"; echo "srun: got SIGTERM" >&2; exit 143' TERM
		sleep 30 &
		sp=$!
		: >"$FAKE_MAIN_WAIT"
		wait
	fi
	exit "${FAKE_MAIN_RC:-0}" ;;
esac
exit 0
EOF
cat >"$T/bin/enroot" <<'EOF'
#!/bin/bash
{ printf 'enroot'; printf '\x1f%s' "$@"; printf '\n'; } >>"$FAKE_CALLS"
EOF
cat >"$T/bin/squeue" <<'EOF'
#!/bin/bash
[ "$*" = "-h -j 4242 -o %D" ] && echo 3
EOF
chmod +x "$T/bin/srun" "$T/bin/enroot" "$T/bin/squeue"
export PATH="$T/bin:$PATH" FAKE_CALLS="$T/calls" FAKE_TOKENS="$T/tokens"
unset RLAUNCH_TOKEN FAKE_PMIX SLURM_GPUS_ON_NODE SLURM_JOB_GPUS RLAUNCH_SBATCH_SYSROOT
# what sbatch gives the batch script (the parts the script reads)
job_env() {
	export SLURM_JOB_ID=4242 SLURM_SUBMIT_DIR="$T/submit" SLURM_JOB_NUM_NODES=2 \
		SLURM_JOB_NODELIST='gpu[01-02]' SLURM_GPUS_ON_NODE=8 SLURM_JOB_GPUS=0,1,2,3,4,5,6,7
}
job_env
S=$T/submit
REP=$S/rlaunch-4242
PASS_E="-e SLURM_JOB_ID -e SLURM_STEP_ID -e SLURM_PROCID -e SLURM_LOCALID -e SLURM_NODEID -e SLURM_NNODES -e SLURM_NTASKS -e SLURM_STEP_NUM_NODES -e SLURM_STEP_NUM_TASKS -e SLURM_STEP_NODELIST -e SLURM_JOB_NODELIST -e SLURMD_NODENAME"
PASS_ENV=${PASS_E//-e /--env }

sb() { (cd "${SB_DIR:-$S}" && RLAUNCH_TEST_MARK="$MARK" exec bash "$SCRIPT" "$@"); }

# --- --help ----------------------------------------------------------------------------
sb --help >"$T/help" 2>"$T/err"
assert_eq "$?" 0 "--help: exit status"
for o in --container --image --image-name --ray-container --rlaunch --gpus-per-node --net --mpi \
	--report-dir --rlaunch-opt --print-commands --help; do
	assert_contains "$T/help" "$o" "--help documents $o"
done
"$SCRIPT" --help >"$T/help2" 2>&1
assert_eq "$?" 0 "--help, the script run directly"
cmp -s "$T/help" "$T/help2" || fail "--help differs when the script is run directly"

# --- bad usage: one line on stderr, exit 2, nothing run ----------------------------------
bad() { # what, expected text in the message, arguments...
	local what=$1 text=$2
	shift 2
	: >"$FAKE_CALLS"
	sb "$@" >"$T/out" 2>"$T/err"
	assert_eq "$?" 2 "$what: exit status"
	assert_eq "$(wc -l <"$T/err")" 1 "$what: one line on stderr"
	grep -q '^rlaunch.sbatch: ' "$T/err" || fail "$what: message not prefixed: $(cat "$T/err")"
	assert_contains "$T/err" "$text" "$what: the message"
	[ -s "$FAKE_CALLS" ] && fail "$what: something was run: $(tr '\037' ' ' <"$FAKE_CALLS")"
	[ -e "$REP" ] && { fail "$what: the report directory was created"; rm -rf "$REP"; }
}
mkdir -p "$T/img"
printf '[{"Config":"c.json","RepoTags":["example/train:1.0","example/train:latest"],"Layers":[]}]\n' >"$T/img/manifest.json"
tar -cf "$S/train.tar" -C "$T/img" manifest.json
tar -czf "$S/train.tar.gz" -C "$T/img" manifest.json
printf '[{"Config":"c.json","RepoTags":null,"Layers":[]}]\n' >"$T/img/manifest.json"
tar -cf "$S/untagged.tar" -C "$T/img" manifest.json
: >"$S/train.sqsh"

bad "unknown option" "unknown option '--frobnicate'" --frobnicate -- true
bad "no --" "missing '--' before the command 'python3'" python3 train.py
bad "options, no --" "missing '--' before the command" --gpus-per-node 2
bad "nothing after --" "no command after '--'" --gpus-per-node 2 --
bad "missing value" "--image needs a value" --container docker --image
bad "bad container" "--container 'podman'" --container podman -- true
bad "zero GPUs" "--gpus-per-node '0'" --gpus-per-node 0 -- true
bad "GPUs not a number" "--gpus-per-node 'eight'" --gpus-per-node=eight -- true
bad "bad net" "--net 'roce'" --net roce -- true
bad "bad mpi" "--mpi 'openmpi'" --mpi openmpi -- true
bad "flag with a value" "--print-commands takes no value" --print-commands=yes -- true
bad "docker without image" "--container docker needs --image" --container docker -- true
bad "enroot without image" "--container enroot needs --image" --container enroot -- true
bad "ray without container" "--container ray needs --ray-container NAME" --container ray -- true
bad "image without container" "--image needs --container docker or enroot" --image x:1 -- true
bad "image with ray" "--image is not used with --container ray" --container ray --ray-container w --image x:1 -- true
bad "ray container with docker" "--ray-container is only for --container ray" --container docker --image x:1 --ray-container w -- true
bad "image name with enroot" "--image-name is only for --container docker" --container enroot --image x:1 --image-name y -- true
bad "missing image file" "--image '$S/nope.tar': no such file" --container docker --image nope.tar -- true
bad "sqsh with docker" "a squashfs image needs --container enroot" --container docker --image train.sqsh -- true
bad "tarball with enroot" "enroot cannot import a docker save tarball" --container enroot --image train.tar -- true
bad "untagged tarball" "no image name in its manifest.json; pass --image-name NAME" --container docker --image untagged.tar -- true
bad "pmix into a container" "--mpi pmix cannot reach into a container" --container docker --image x:1 --mpi pmix -- true
bad "rlaunch not executable" "--rlaunch '$S/train.tar' is not an executable file" --rlaunch train.tar -- true
bad "colon in a mounted path" "a path with ':' or ',' cannot be mounted" --container docker --image x:1 --report-dir "$T/a:b" -- true
(unset SLURM_JOB_ID && bad "outside Slurm" "not inside a Slurm job" --rlaunch "$RL" -- true; exit "$FAILED") || FAILED=1

# --- --print-commands: the exact commands -----------------------------------------------
# expect NAME ARGS...: --print-commands output equals $T/expect.NAME
expect() {
	local name=$1
	shift
	: >"$FAKE_CALLS"
	sb --print-commands "$@" >"$T/got.$name" 2>"$T/err"
	assert_eq "$?" 0 "$name: exit status"
	[ -s "$T/err" ] && fail "$name: stderr: $(cat "$T/err")"
	diff -u "$T/expect.$name" "$T/got.$name" >&2 || fail "$name: --print-commands output"
	[ -s "$FAKE_CALLS" ] && fail "$name: --print-commands ran something: $(tr '\037' ' ' <"$FAKE_CALLS")"
	[ -e "$REP" ] && fail "$name: --print-commands created $REP"
}

# bare metal, srun has PMIx; the job has GPUs; quoting of the command
cat >"$T/expect.none-pmix" <<EOF
mkdir -p $REP
srun --ntasks-per-node=1 --gpus-per-node=8 --mpi=pmix $RL --gpus-per-node 8 --net auto --log-dir $REP -- python3 pretrain.py --name 'run one' 'it'\\''s'
EOF
FAKE_PMIX=1 expect none-pmix --rlaunch "$RL" --gpus-per-node 8 -- python3 pretrain.py --name "run one" "it's"

# no PMIx plugin: the slurm provider; no --gpus-per-node: rlaunch decides; rlaunch options
cat >"$T/expect.none-slurm" <<EOF
mkdir -p $T/reports
srun --ntasks-per-node=1 --mpi=none $RL --rdzv slurm --net socket --log-dir $T/reports --max-restarts=2 --env A=1 -- python3 pretrain.py
EOF
expect none-slurm --rlaunch "$RL" --net socket --report-dir "$T/reports" --rlaunch-opt=--max-restarts=2 \
	--rlaunch-opt --env --rlaunch-opt A=1 -- python3 pretrain.py

# --mpi pmix forced; the job has no GPUs (gres): srun gets no --gpus-per-node;
# an EFA device on the batch host: --net efa
mkdir -p "$T/sys/sys/class/infiniband/rdmap0s31/device" "$T/sys/sys/bus/pci/drivers/efa"
ln -s ../../../../bus/pci/drivers/efa "$T/sys/sys/class/infiniband/rdmap0s31/device/driver"
cat >"$T/expect.none-efa" <<EOF
mkdir -p $REP
srun --ntasks-per-node=1 --mpi=pmix $RL --gpus-per-node 4 --net efa --log-dir $REP -- python3 pretrain.py
EOF
(unset SLURM_GPUS_ON_NODE SLURM_JOB_GPUS && RLAUNCH_SBATCH_SYSROOT=$T/sys \
	expect none-efa --rlaunch "$RL" --mpi pmix --gpus-per-node 4 -- python3 pretrain.py; exit "$FAILED") || FAILED=1

# rlaunch found as build/rlaunch of the repository the job was submitted from
mkdir -p "$T/repo/build"
cp "$RLAUNCH" "$T/repo/build/rlaunch"
cat >"$T/expect.found" <<EOF
mkdir -p $T/repo/rlaunch-4242
srun --ntasks-per-node=1 --mpi=none $T/repo/build/rlaunch --rdzv slurm --net auto --log-dir $T/repo/rlaunch-4242 -- true
EOF
SB_DIR=$T/repo SLURM_SUBMIT_DIR=$T/repo expect found -- true

# outside Slurm: placeholders (the submit directory is the current one)
cat >"$T/expect.outside" <<EOF
mkdir -p $S/rlaunch-JOBID
srun --ntasks-per-node=1 --mpi=none $RL --rdzv slurm --net auto --log-dir $S/rlaunch-JOBID -- true
EOF
(unset SLURM_JOB_ID SLURM_SUBMIT_DIR SLURM_GPUS_ON_NODE SLURM_JOB_GPUS && expect outside --rlaunch "$RL" -- true
	exit "$FAILED") || FAILED=1

# docker, a tarball: loaded on every node, run by the name in its manifest
cat >"$T/expect.docker-tar" <<EOF
mkdir -p $REP
srun --ntasks-per-node=1 docker load -i $S/train.tar
srun --ntasks-per-node=1 --gpus-per-node=8 --mpi=none docker run --rm --network host --ipc host --ulimit memlock=-1:-1 --gpus all -v $RL:/opt/rlaunch/rlaunch:ro -v $S:$S -w $S -e RLAUNCH_TOKEN -e CUDA_VISIBLE_DEVICES $PASS_E example/train:1.0 /opt/rlaunch/rlaunch --rdzv slurm --gpus-per-node 8 --net auto --log-dir $REP -- python3 pretrain.py
EOF
FAKE_PMIX=1 expect docker-tar --rlaunch "$RL" --container docker --image train.tar --gpus-per-node 8 -- python3 pretrain.py

# docker, a gzipped tarball with its name given; /dev/infiniband on the batch host;
# a report directory outside the submit directory is mounted too
mkdir -p "$T/sys/dev/infiniband"
cat >"$T/expect.docker-tgz" <<EOF
mkdir -p $T/reports
srun --ntasks-per-node=1 docker load -i $S/train.tar.gz
srun --ntasks-per-node=1 --mpi=none docker run --rm --network host --ipc host --ulimit memlock=-1:-1 --gpus all --device /dev/infiniband -v $RL:/opt/rlaunch/rlaunch:ro -v $S:$S -v $T/reports:$T/reports -w $S -e RLAUNCH_TOKEN -e CUDA_VISIBLE_DEVICES $PASS_E mine:2 /opt/rlaunch/rlaunch --rdzv slurm --net efa --log-dir $T/reports -- python3 pretrain.py
EOF
RLAUNCH_SBATCH_SYSROOT=$T/sys expect docker-tgz --rlaunch "$RL" --container=docker --image="$S/train.tar.gz" \
	--image-name mine:2 --report-dir "$T/reports" -- python3 pretrain.py

# docker, a registry reference: pulled on every node
cat >"$T/expect.docker-registry" <<EOF
mkdir -p $REP
srun --ntasks-per-node=1 docker pull nvcr.io/nvidia/pytorch:24.12-py3
srun --ntasks-per-node=1 --gpus-per-node=8 --mpi=none docker run --rm --network host --ipc host --ulimit memlock=-1:-1 --gpus all -v $RL:/opt/rlaunch/rlaunch:ro -v $S:$S -w $S -e RLAUNCH_TOKEN -e CUDA_VISIBLE_DEVICES $PASS_E nvcr.io/nvidia/pytorch:24.12-py3 /opt/rlaunch/rlaunch --rdzv slurm --gpus-per-node 8 --net auto --log-dir $REP -- python3 pretrain.py
EOF
expect docker-registry --rlaunch "$RL" --container docker --image nvcr.io/nvidia/pytorch:24.12-py3 \
	--gpus-per-node 8 -- python3 pretrain.py

# enroot, a registry reference: imported once (enroot's REGISTRY#IMAGE spelling),
# created on every node, started, removed
START="srun --ntasks-per-node=1 --gpus-per-node=8 --mpi=none enroot start --rw --mount $RL:/opt/rlaunch/rlaunch:none:x-create=file,bind,ro --mount $S:$S:none:x-create=dir,bind --env RLAUNCH_TOKEN --env CUDA_VISIBLE_DEVICES $PASS_ENV rlaunch-4242 /bin/sh -c 'cd \"\$1\" && shift && exec \"\$@\"' sh $S /opt/rlaunch/rlaunch --rdzv slurm --gpus-per-node 8 --net auto --log-dir $REP -- python3 pretrain.py"
cat >"$T/expect.enroot-registry" <<EOF
mkdir -p $REP
enroot import -o $REP/image.sqsh 'docker://nvcr.io#nvidia/pytorch:24.12-py3'
srun --ntasks-per-node=1 enroot create --force --name rlaunch-4242 $REP/image.sqsh
$START
srun --ntasks-per-node=1 enroot remove --force rlaunch-4242
rm -f $REP/image.sqsh
EOF
expect enroot-registry --rlaunch "$RL" --container enroot --image nvcr.io/nvidia/pytorch:24.12-py3 \
	--gpus-per-node 8 -- python3 pretrain.py

# enroot, a Docker Hub name (no registry part) and a .sqsh file
{
	echo "mkdir -p $REP"
	echo "enroot import -o $REP/image.sqsh docker://pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
	sed -n '3,$p' "$T/expect.enroot-registry"
} >"$T/expect.enroot-hub"
expect enroot-hub --rlaunch "$RL" --container enroot --image pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime \
	--gpus-per-node 8 -- python3 pretrain.py
cat >"$T/expect.enroot-sqsh" <<EOF
mkdir -p $REP
srun --ntasks-per-node=1 enroot create --force --name rlaunch-4242 $S/train.sqsh
$START
srun --ntasks-per-node=1 enroot remove --force rlaunch-4242
EOF
expect enroot-sqsh --rlaunch "$RL" --container enroot --image train.sqsh --gpus-per-node 8 -- python3 pretrain.py

# ray: rlaunch copied into the running Ray worker container and started with
# docker exec, the secret and the rendezvous' Slurm variables passed by name;
# srun gets no GPUs (the Ray containers hold them); the stop step on a signal
cat >"$T/expect.ray" <<EOF
srun --nodes=2 --ntasks-per-node=1 --overlap docker cp $RL ray-worker:/tmp/rlaunch-4242
srun --nodes=2 --ntasks-per-node=1 --overlap --mpi=none docker exec -e RLAUNCH_TOKEN $PASS_E ray-worker /bin/sh -c 'echo \$\$ >"\$0" && exec "\$@"' /tmp/rlaunch-4242.pid /tmp/rlaunch-4242 --rdzv slurm --gpus-per-node 8 --net auto --log-dir $REP -- python3 pretrain.py
# on SIGINT/SIGTERM: srun --nodes=2 --ntasks-per-node=1 --overlap docker exec ray-worker /bin/sh -c 'kill -TERM "\$(cat "\$0")" 2>/dev/null; true' /tmp/rlaunch-4242.pid
EOF
FAKE_PMIX=1 expect ray --rlaunch "$RL" --container ray --ray-container ray-worker --gpus-per-node 8 -- python3 pretrain.py

# ray, run from outside the Ray job (SLURM_JOB_ID only): its node count from squeue
sed 's/--nodes=2 /--nodes=3 /' "$T/expect.ray" >"$T/expect.ray-attach"
(unset SLURM_JOB_NUM_NODES SLURM_SUBMIT_DIR SLURM_GPUS_ON_NODE SLURM_JOB_GPUS &&
	expect ray-attach --rlaunch "$RL" --container ray --ray-container ray-worker --gpus-per-node 8 -- python3 pretrain.py
	exit "$FAILED") || FAILED=1

# --- running: exactly the printed commands, the rlaunch step's status -------------------
# run NAME ARGS...: run the script for real (stand-ins record), compare with the
# printed commands that go through srun/enroot (mkdir and rm run for real)
run() {
	local name=$1 line
	shift
	local -a words
	sb --print-commands "$@" >"$T/printed.$name" 2>/dev/null
	: >"$FAKE_CALLS"
	: >"$FAKE_TOKENS"
	sb "$@" >"$T/out.$name" 2>"$T/err.$name"
	RC=$?
	: >"$T/want.$name"
	while IFS= read -r line; do
		case $line in srun* | enroot*) ;; *) continue ;; esac
		eval "words=($line)"
		(IFS=$'\037' && printf '%s\n' "${words[*]}") >>"$T/want.$name"
	done <"$T/printed.$name"
}
checkrun() { # name, expected status
	assert_eq "$RC" "$2" "$1: exit status"
	[ -s "$T/want.$1" ] || fail "$1: no srun/enroot command printed"
	diff -u <(tr '\037' ' ' <"$T/want.$1") <(tr '\037' ' ' <"$FAKE_CALLS") >&2 ||
		fail "$1: what ran is not what --print-commands showed"
}

FAKE_PMIX=1 FAKE_MAIN_RC=0 run none --rlaunch "$RL" --gpus-per-node 8 -- python3 pretrain.py
checkrun none 0
[ -d "$REP" ] || fail "none: the report directory was not created"
assert_contains "$T/out.none" "rlaunch.sbatch: rank logs: $REP/rank<RANK>.log" "none: says where the logs are"
assert_contains "$T/out.none" "rlaunch.sbatch: job 4242 finished with exit status 0; rank logs: $REP/" "none: and at the end"
tok=$(head -n 1 "$FAKE_TOKENS")
[[ $tok =~ ^[0-9a-f]{64}$ ]] || fail "none: RLAUNCH_TOKEN generated for srun: '$tok'"
rm -rf "$REP"

# the first failing rank's status is the script's; a token already set is kept
RLAUNCH_TOKEN=given-secret FAKE_MAIN_RC=13 run docker --rlaunch "$RL" --container docker --image train.tar -- python3 pretrain.py
checkrun docker 13
assert_eq "$(sort -u "$FAKE_TOKENS")" "given-secret" "docker: RLAUNCH_TOKEN kept"
assert_contains "$T/out.docker" "finished with exit status 13" "docker: says the status"
rm -rf "$REP"

# a step before rlaunch fails: the job ends with its status, rlaunch not started
FAKE_PULL_RC=3 run pull --rlaunch "$RL" --container docker --image example/x:1 -- python3 pretrain.py
assert_eq "$RC" 3 "pull fails: exit status"
grep -q -- '--log-dir' "$FAKE_CALLS" && fail "pull fails: rlaunch was started anyway"
rm -rf "$REP"

# enroot: the cleanup runs after a failure and the status stays rlaunch's
FAKE_MAIN_RC=7 run enroot --rlaunch "$RL" --container enroot --image nvcr.io/nvidia/pytorch:24.12-py3 -- python3 pretrain.py
checkrun enroot 7
rm -rf "$REP"

# ray: SIGTERM to the script runs the stop step in the containers (docker exec
# forwards no signal), then srun's status is the script's
rm -f "$T/main-started"
: >"$FAKE_CALLS"
(cd "$S" && FAKE_MAIN_WAIT="$T/main-started" RLAUNCH_TEST_MARK="$MARK" exec bash "$SCRIPT" --rlaunch "$RL" --container ray \
	--ray-container ray-worker -- python3 pretrain.py) >"$T/out.raystop" 2>"$T/err.raystop" &
pid=$!
wait_files 1 "$T/main-started" 10 || fail "ray: the rlaunch step did not start"
kill -TERM "$pid"
wait "$pid"
assert_eq "$?" 143 "ray stopped: exit status"
assert_contains "$T/err.raystop" "rlaunch.sbatch: got SIGTERM, stopping the job" "ray stopped: says so"
assert_eq "$(grep -c 'docker.exec.ray-worker./bin/sh.-c.kill -TERM' "$FAKE_CALLS")" 1 "ray stopped: the stop step ran once"
assert_no_leftovers
pass

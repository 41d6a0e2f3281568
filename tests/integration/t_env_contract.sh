#!/bin/bash
# Each rank gets the documented environment; CUDA_VISIBLE_DEVICES policies.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

dump='env > "$OUT/env.$RANK"'

# reset (default): CUDA_VISIBLE_DEVICES unset, LOCAL_RANK = physical id
mkdir "$T/reset"
CUDA_VISIBLE_DEVICES=4,5,6,7 OMP_NUM_THREADS=7 OUT="$T/reset" \
	rl --env EXTRA=x=y --env OMP_NUM_THREADS=3 --master-port 29999 --run-id job9 --max-restarts 2 \
	-- sh -c "$dump" 2>"$T/err" || die "reset run failed: $(cat "$T/err")"
for r in 0 1 2 3; do
	f="$T/reset/env.$r"
	[ -f "$f" ] || die "rank $r wrote no environment"
	assert_contains "$f" "RANK=$r" "RANK"
	assert_contains "$f" "LOCAL_RANK=$((r + 4))" "LOCAL_RANK is the physical GPU"
	assert_contains "$f" "WORLD_SIZE=4" "WORLD_SIZE"
	assert_contains "$f" "LOCAL_WORLD_SIZE=4" "LOCAL_WORLD_SIZE"
	assert_contains "$f" "NODE_RANK=0" "NODE_RANK"
	assert_contains "$f" "GROUP_RANK=0" "GROUP_RANK"
	assert_contains "$f" "MASTER_ADDR=127.0.0.1" "MASTER_ADDR"
	assert_contains "$f" "MASTER_PORT=29999" "MASTER_PORT"
	assert_contains "$f" "TORCHELASTIC_RESTART_COUNT=0" "restart count"
	assert_contains "$f" "TORCHELASTIC_MAX_RESTARTS=2" "max restarts"
	assert_contains "$f" "TORCHELASTIC_RUN_ID=job9" "run id"
	assert_contains "$f" "CUDA_DEVICE_MAX_CONNECTIONS=1" "CUDA_DEVICE_MAX_CONNECTIONS"
	assert_contains "$f" "OMP_NUM_THREADS=3" "--env wins over the inherited value"
	assert_contains "$f" "EXTRA=x=y" "--env value with '='"
	assert_not_contains "$f" "CUDA_VISIBLE_DEVICES=" "reset unsets CUDA_VISIBLE_DEVICES"
done

# keep: passed on; LOCAL_RANK indexes into it
mkdir "$T/keep"
CUDA_VISIBLE_DEVICES=2,3 OUT="$T/keep" rl --cuda-visible-devices keep -- sh -c "$dump" 2>"$T/err" ||
	die "keep run failed: $(cat "$T/err")"
assert_contains "$T/keep/env.1" "CUDA_VISIBLE_DEVICES=2,3" "keep"
assert_contains "$T/keep/env.1" "LOCAL_RANK=1" "keep LOCAL_RANK"

# single: each rank sees its own GPU; UUIDs are valid here
mkdir "$T/single"
U0=GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6
U1=GPU-9d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6
CUDA_VISIBLE_DEVICES=$U0,$U1 OUT="$T/single" rl --cuda-visible-devices single -- sh -c "$dump" 2>"$T/err" ||
	die "single run failed: $(cat "$T/err")"
assert_contains "$T/single/env.0" "CUDA_VISIBLE_DEVICES=$U0" "single rank 0"
assert_contains "$T/single/env.1" "CUDA_VISIBLE_DEVICES=$U1" "single rank 1"

# no GPU, explicit count: CPU ranks, said once
mkdir "$T/cpu"
env -u CUDA_VISIBLE_DEVICES OUT="$T/cpu" "$RLAUNCH" --gpus-per-node 3 -- sh -c "$dump" 2>"$T/err" ||
	die "cpu run failed"
if [ -d /proc/driver/nvidia/gpus ]; then
	echo "note: this machine has NVIDIA GPUs; CPU-only notice not checked"
else
	assert_eq "$(grep -c 'starting 3 ranks as CPU processes' "$T/err")" 1 "CPU notice once"
fi
assert_eq "$(ls "$T/cpu" | wc -l)" 3 "three CPU ranks"

# --master-port 0 picks a real port
mkdir "$T/port"
CUDA_VISIBLE_DEVICES=0 OUT="$T/port" rl --master-port 0 -- sh -c "$dump" 2>/dev/null
port=$(sed -n 's/^MASTER_PORT=//p' "$T/port/env.0")
{ [ -n "$port" ] && [ "$port" -gt 0 ] && [ "$port" -le 65535 ]; } || fail "picked port '$port'"

# --dry-run prints the plan and environments and starts nothing
CUDA_VISIBLE_DEVICES=0,1 rl --dry-run --net socket -- touch "$T/started" >"$T/dry" 2>&1 ||
	fail "dry run failed"
assert_contains "$T/dry" "world size 2" "dry run plan"
assert_contains "$T/dry" "rank 1 (local 1, gpu 1):" "dry run rank"
assert_contains "$T/dry" "LOCAL_RANK=1" "dry run env"
assert_contains "$T/dry" "NCCL_IB_DISABLE=1" "dry run shows the net preset"
assert_contains "$T/dry" "unset CUDA_VISIBLE_DEVICES" "dry run shows unset"
[ -e "$T/started" ] && fail "dry run started the command"

assert_no_leftovers
pass

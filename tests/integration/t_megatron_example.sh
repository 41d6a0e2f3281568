#!/bin/bash
# examples/megatron/pretrain_deepseek_v2_lite.py on a machine without Megatron:
#  a. Megatron Bridge missing: one clear line on stderr, exit 3, no traceback, directly
#     and as ranks of a real rlaunch job (rlaunch then exits 3 and names the rank);
#  b. flags and environment: argparse's exit 2 for bad flags; a missing or non-numeric
#     launcher variable, or a parallel layout that does not fit WORLD_SIZE, exit 2;
#  c. config building, against tests/fakes/megatron_bridge_standin (a STAND-IN for the
#     megatron.bridge import that only records what it is given): the flags land in the
#     right config fields, rank and world size come from the environment, and the script
#     never writes CUDA_VISIBLE_DEVICES (or any other variable).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' 2>/dev/null; then
	echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"
	exit 77
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPT="$ROOT/examples/megatron/pretrain_deepseek_v2_lite.py"
STANDIN="$ROOT/tests/fakes/megatron_bridge_standin"
[ -f "$SCRIPT" ] || die "no $SCRIPT"

# What rlaunch would set for rank 3 of 16, 8 per node.
FAKE_ENV=(RANK=3 LOCAL_RANK=3 WORLD_SIZE=16 LOCAL_WORLD_SIZE=8 MASTER_ADDR=10.0.0.1
	MASTER_PORT=29500)

# run_script OUTPREFIX VAR=VALUE... -- ARGS...: the script with exactly the given
# environment (plus PATH and LANG); stdout/stderr in OUTPREFIX.out/.err; status in RC.
run_script() {
	local out=$1 vars=()
	shift
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "${vars[@]}" "$PY" "$SCRIPT" "$@" \
		>"$out.out" 2>"$out.err"
	RC=$?
}

# one_clear_line PREFIX WHAT: stderr is a single line, no traceback, nothing on stdout.
one_clear_line() {
	assert_eq "$(wc -l <"$1.err")" 1 "$2: lines on stderr"
	assert_not_contains "$1.err" "Traceback" "$2: traceback"
	assert_eq "$(wc -c <"$1.out")" 0 "$2: bytes on stdout"
}

# jget FILE DOTTED.PATH: a value from a stand-in record (strings bare, the rest as JSON;
# a path that does not exist prints <absent>).
jget() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    if not isinstance(v, dict) or key not in v:
        print("<absent>")
        sys.exit(0)
    v = v[key]
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

# expect_fields FILE WHAT PATH=VALUE...: each field of the record has that value.
expect_fields() {
	local file=$1 what=$2 pair
	shift 2
	for pair in "$@"; do
		assert_eq "$(jget "$file" "${pair%%=*}")" "${pair#*=}" "$what: ${pair%%=*}"
	done
}

# --- a. Megatron Bridge is not installed -----------------------------------------------

if "$PY" -c 'import megatron.bridge' 2>/dev/null; then
	echo "note: $PY imports megatron.bridge; the missing-Megatron checks are skipped"
else
	run_script "$T/a1" "${FAKE_ENV[@]}" -- --mock-data
	assert_eq "$RC" 3 "no Megatron: exit status"
	one_clear_line "$T/a1" "no Megatron"
	assert_contains "$T/a1.err" "pretrain_deepseek_v2_lite: error: cannot import megatron.bridge" \
		"no Megatron: what is missing"
	assert_contains "$T/a1.err" "Megatron Bridge is not installed" "no Megatron: why"
	assert_contains "$T/a1.err" "NeMo framework container" "no Megatron: how to get it"
	assert_contains "$T/a1.err" "pip install megatron-bridge" "no Megatron: how to install"

	# the same as two ranks of a real job: rlaunch ends with the rank's status and names it
	CUDA_VISIBLE_DEVICES='' rl --gpus-per-node 2 --master-port 0 -- \
		"$PY" "$SCRIPT" --mock-data --expert-parallel-size 2 >"$T/a2.out" 2>"$T/a2.err"
	assert_eq "$?" 3 "no Megatron under rlaunch: rlaunch's exit status"
	assert_contains "$T/a2.err" "rlaunch: Root Cause" "no Megatron under rlaunch: report"
	grep -qE "rank +: [01] \(local_rank: [01]\)" "$T/a2.err" ||
		fail "no Megatron under rlaunch: report names no rank: $(cat "$T/a2.err")"
	assert_contains "$T/a2.err" "status    : exit code 3" "no Megatron under rlaunch: status"
	assert_contains "$T/a2.err" "Megatron Bridge is not installed" \
		"no Megatron under rlaunch: the rank's message"
	assert_not_contains "$T/a2.err" "Traceback" "no Megatron under rlaunch: traceback"
	assert_no_leftovers "missing-Megatron job"
fi

# --- b. flags and environment ----------------------------------------------------------

run_script "$T/b1" "${FAKE_ENV[@]}" -- --mock-data --no-such-flag
assert_eq "$RC" 2 "unknown flag: exit status"
assert_contains "$T/b1.err" "unrecognized arguments: --no-such-flag" "unknown flag: message"
assert_contains "$T/b1.err" "usage: pretrain_deepseek_v2_lite" "unknown flag: usage"

run_script "$T/b2" "${FAKE_ENV[@]}" -- --mock-data --tensor-parallel-size 0
assert_eq "$RC" 2 "zero TP: exit status"
assert_contains "$T/b2.err" "argument --tensor-parallel-size/--tp: '0' must be at least 1" \
	"zero TP: message"

run_script "$T/b3" "${FAKE_ENV[@]}" -- --train-iters 10
assert_eq "$RC" 2 "no data source: exit status"
assert_contains "$T/b3.err" "one of the arguments --mock-data --data-path is required" \
	"no data source: message"

run_script "$T/b4" "${FAKE_ENV[@]}" -- --mock-data --data-path /d/a
assert_eq "$RC" 2 "two data sources: exit status"
assert_contains "$T/b4.err" "not allowed with argument" "two data sources: message"

run_script "$T/b5" "${FAKE_ENV[@]}" -- --data-path 0.5 /d/a 0.5
assert_eq "$RC" 2 "unpaired weight: exit status"
assert_contains "$T/b5.err" "--data-path: weights and prefixes must come in pairs" \
	"unpaired weight: message"

run_script "$T/b6" "${FAKE_ENV[@]}" -- --mock-data --train-iters 10 --lr-warmup-iters 10
assert_eq "$RC" 2 "warmup as long as training: exit status"
assert_contains "$T/b6.err" "--lr-warmup-iters (10) must be less than --train-iters (10)" \
	"warmup as long as training: message"

run_script "$T/b7" -- --help
assert_eq "$RC" 0 "--help without launcher or Megatron: exit status"
assert_contains "$T/b7.out" "--expert-parallel-size" "--help lists the flags"

# RANK missing: told to run it under rlaunch, before any import of Megatron is tried
run_script "$T/b8" LOCAL_RANK=0 WORLD_SIZE=8 LOCAL_WORLD_SIZE=8 MASTER_ADDR=127.0.0.1 \
	MASTER_PORT=29500 -- --mock-data
assert_eq "$RC" 2 "RANK missing: exit status"
one_clear_line "$T/b8" "RANK missing"
assert_contains "$T/b8.err" "pretrain_deepseek_v2_lite: error: RANK not set" \
	"RANK missing: names the variable"
assert_contains "$T/b8.err" "run it under rlaunch" "RANK missing: what to do"

run_script "$T/b9" -- --mock-data
assert_eq "$RC" 2 "no launcher at all: exit status"
assert_contains "$T/b9.err" \
	"RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT not set" \
	"no launcher at all: every variable named"

run_script "$T/b10" RANK=x LOCAL_RANK=0 WORLD_SIZE=8 LOCAL_WORLD_SIZE=8 \
	MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 -- --mock-data
assert_eq "$RC" 2 "RANK not a number: exit status"
one_clear_line "$T/b10" "RANK not a number"
assert_contains "$T/b10.err" "RANK='x' is not a number; run it under rlaunch" \
	"RANK not a number: message"

run_script "$T/b11" RANK=8 LOCAL_RANK=0 WORLD_SIZE=8 LOCAL_WORLD_SIZE=8 \
	MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 -- --mock-data
assert_eq "$RC" 2 "RANK past WORLD_SIZE: exit status"
assert_contains "$T/b11.err" "RANK=8 is outside 0..7" "RANK past WORLD_SIZE: message"

run_script "$T/b12" "${FAKE_ENV[@]}" WORLD_SIZE=12 -- --mock-data --tensor-parallel-size 8
assert_eq "$RC" 2 "TP does not divide WORLD_SIZE: exit status"
one_clear_line "$T/b12" "TP does not divide WORLD_SIZE"
assert_contains "$T/b12.err" \
	"WORLD_SIZE=12 is not divisible by tensor x pipeline x context parallel size (8 x 1 x 1 = 8)" \
	"TP does not divide WORLD_SIZE: message"

run_script "$T/b13" RANK=0 LOCAL_RANK=0 WORLD_SIZE=4 LOCAL_WORLD_SIZE=4 MASTER_ADDR=127.0.0.1 \
	MASTER_PORT=29500 -- --mock-data --global-batch-size 8
assert_eq "$RC" 2 "EP larger than the job: exit status"
assert_contains "$T/b13.err" \
	"WORLD_SIZE=4 is not divisible by expert tensor x expert x pipeline parallel size (1 x 8 x 1 = 8)" \
	"EP larger than the job: message"

run_script "$T/b14" "${FAKE_ENV[@]}" -- --mock-data --micro-batch-size 2 --global-batch-size 24
assert_eq "$RC" 2 "global batch not a multiple: exit status"
assert_contains "$T/b14.err" "--global-batch-size 24 is not a multiple of --micro-batch-size x data parallel size (2 x 16 = 32" \
	"global batch not a multiple: message"

# --- c. config building against the stand-in ------------------------------------------

# The script never writes the environment: no assignment to os.environ, no putenv.
if grep -nE "environ\[[^]]*\] *=[^=]|environ\.(update|setdefault|pop|clear)|putenv|unsetenv|del +os\.environ" \
	"$SCRIPT" >"$T/writes"; then
	fail "the script writes the environment: $(cat "$T/writes")"
fi

mkdir "$T/c1"
run_script "$T/c1" "${FAKE_ENV[@]}" PYTHONPATH="$STANDIN" STANDIN_RECORD_DIR="$T/c1" -- \
	--hf-path /models/DeepSeek-V2-Lite --tensor-parallel-size 2 --pipeline-parallel-size 2 \
	--expert-parallel-size 4 --seq-length 2048 --train-iters 50 --micro-batch-size 2 \
	--global-batch-size 64 --lr 1e-4 --min-lr 1e-5 --mock-data --save /ckpt --seed 7 \
	--eval-interval 25 --eval-iters 2 --log-interval 5 --recompute selective
assert_eq "$RC" 0 "stand-in, recent recipe: exit status ($(cat "$T/c1.err"))"
R="$T/c1/rank3.json"
[ -f "$R" ] || die "stand-in recorded nothing for rank 3: $(cat "$T/c1.err")"
assert_contains "$T/c1.out" \
	"rank 3/16 local_rank 3/8 master 10.0.0.1:29500 TP=2 PP=2 CP=1 EP=4 DP=4 model=/models/DeepSeek-V2-Lite" \
	"stand-in, recent recipe: the rank's place, from the environment"
expect_fields "$R" "recent recipe" \
	standin=megatron_bridge_standin \
	forward_step=megatron.bridge.training.gpt_step.forward_step \
	config.model.standin_hf_path=/models/DeepSeek-V2-Lite \
	config.model.standin_load_weights=false \
	config.model.tensor_model_parallel_size=2 \
	config.model.pipeline_model_parallel_size=2 \
	config.model.pipeline_dtype=torch.bfloat16 \
	config.model.context_parallel_size=1 \
	config.model.expert_model_parallel_size=4 \
	config.model.expert_tensor_parallel_size=null \
	config.model.sequence_parallel=false \
	config.model.seq_length=2048 \
	config.model.rotary_base=10000.0 \
	config.model.recompute_granularity=selective \
	config.model.recompute_method=null \
	config.model.moe_token_dispatcher_type=alltoall \
	config.model.transformer_impl=transformer_engine \
	config.dataset.seq_length=2048 \
	config.dataset.sequence_length=2048 \
	config.dataset.blend=null \
	config.dataset.blend_per_split=null \
	config.train.train_iters=50 \
	config.train.micro_batch_size=2 \
	config.train.global_batch_size=64 \
	config.validation.eval_interval=25 \
	config.validation.eval_iters=2 \
	config.optimizer.lr=0.0001 \
	config.optimizer.min_lr=1e-05 \
	config.scheduler.lr_warmup_iters=5 \
	config.scheduler.lr_decay_iters=50 \
	config.tokenizer.tokenizer_type=NullTokenizer \
	config.checkpoint.save=/ckpt \
	config.checkpoint.load=/ckpt \
	config.logger.log_interval=5 \
	config.logger.tensorboard_dir=null \
	config.rng.seed=7 \
	config.dist.local_rank=3 \
	config.dist.external_gpu_device_mapping=false \
	env.RANK=3 env.WORLD_SIZE=16 env.LOCAL_RANK=3 env.MASTER_ADDR=10.0.0.1 \
	env.CUDA_VISIBLE_DEVICES="<absent>"
# the recipe builds its model from the hub id; --hf-path then provides the architecture
assert_eq "$(jget "$R" calls | tr -d ' ')" \
	'[{"call":"deepseek_v2_lite_pretrain_config","form":"noargs"},{"call":"AutoBridge.from_hf_pretrained","kwargs":{},"path":"deepseek-ai/DeepSeek-V2-Lite"},{"call":"AutoBridge.to_megatron_provider","load_weights":false,"path":"deepseek-ai/DeepSeek-V2-Lite"},{"call":"AutoBridge.from_hf_pretrained","kwargs":{},"path":"/models/DeepSeek-V2-Lite"},{"call":"AutoBridge.to_megatron_provider","load_weights":false,"path":"/models/DeepSeek-V2-Lite"}]' \
	"recent recipe: calls into Megatron Bridge"

# The environment pretrain() runs in is exactly the one the script was given (Python's
# own LC_* locale coercion aside): nothing added, nothing changed, nothing removed.
"$PY" - "$R" "$T/c1" "$STANDIN" "${FAKE_ENV[@]}" >"$T/c1.envdiff" <<'EOF'
import json, sys
rec, outdir, standin = json.load(open(sys.argv[1]))["env"], sys.argv[2], sys.argv[3]
given = dict(kv.split("=", 1) for kv in sys.argv[4:])
given.update(PATH="/usr/bin:/bin", LANG="C.UTF-8", PYTHONPATH=standin, STANDIN_RECORD_DIR=outdir)
seen = {k: v for k, v in rec.items() if not k.startswith("LC_")}
for k in sorted(set(given) | set(seen)):
    if given.get(k) != seen.get(k):
        print(f"{k}: given {given.get(k)!r}, at pretrain() {seen.get(k)!r}")
EOF
[ -s "$T/c1.envdiff" ] && fail "the script changed its environment: $(cat "$T/c1.envdiff")"

# The earlier recipe shape (keyword arguments, evaluation in cfg.train), real data, one
# visible GPU (rlaunch's `single` policy), weights on the blend, the HF tokenizer.
mkdir "$T/c2"
run_script "$T/c2" RANK=1 LOCAL_RANK=1 WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 \
	MASTER_PORT=29501 CUDA_VISIBLE_DEVICES=5 NCCL_SOCKET_IFNAME=eth0 \
	PYTHONPATH="$STANDIN" STANDIN_RECORD_DIR="$T/c2" STANDIN_RECIPE_FORM=kwargs -- \
	--hf-path /models/v2lite --expert-parallel-size 2 --global-batch-size 8 \
	--data-path 0.7 /d/a 0.3 /d/b --split 98,1,1 --expert-tensor-parallel-size 1 \
	--sequence-parallel --no-moe-permute-fusion --precision bf16_mixed --save-interval 20 \
	--load /old
assert_eq "$RC" 0 "stand-in, earlier recipe: exit status ($(cat "$T/c2.err"))"
R="$T/c2/rank1.json"
[ -f "$R" ] || die "stand-in recorded nothing for rank 1: $(cat "$T/c2.err")"
expect_fields "$R" "earlier recipe" \
	config.model.standin_hf_path=/models/v2lite \
	config.model.expert_model_parallel_size=2 \
	config.model.expert_tensor_parallel_size=1 \
	config.model.tensor_model_parallel_size=1 \
	config.model.pipeline_dtype=null \
	config.model.sequence_parallel=true \
	config.model.moe_permute_fusion=false \
	config.model.recompute_granularity=full \
	config.model.recompute_method=uniform \
	config.model.recompute_num_layers=1 \
	config.model.seq_length=4096 \
	config.dataset.sequence_length=4096 \
	config.dataset.seq_length="<absent>" \
	config.dataset.blend='[["/d/a", "/d/b"], [0.7, 0.3]]' \
	config.dataset.split=98,1,1 \
	config.tokenizer.tokenizer_type=HuggingFaceTokenizer \
	config.tokenizer.tokenizer_model=/models/v2lite \
	config.tokenizer.vocab_size=null \
	config.train.train_iters=500 \
	config.train.eval_interval=100 \
	config.validation="<absent>" \
	config.scheduler.lr_warmup_iters=50 \
	config.checkpoint.save=null \
	config.checkpoint.load=/old \
	config.checkpoint.save_interval=20 \
	config.mixed_precision=bf16_mixed \
	config.dist.local_rank=1 \
	config.dist.external_gpu_device_mapping=true \
	env.CUDA_VISIBLE_DEVICES=5 \
	env.NCCL_SOCKET_IFNAME=eth0 \
	env.FI_PROVIDER="<absent>"
assert_eq "$(jget "$R" calls | tr -d ' ')" \
	'[{"call":"deepseek_v2_lite_pretrain_config","form":"kwargs","kwargs":{"hf_path":"'"'/models/v2lite'"'"}},{"call":"AutoBridge.from_hf_pretrained","kwargs":{},"path":"/models/v2lite"},{"call":"AutoBridge.to_megatron_provider","load_weights":false,"path":"/models/v2lite"}]' \
	"earlier recipe: the recipe builds the model from --hf-path"

# EP must divide the model's 64 routed experts (known only once the model is read)
mkdir "$T/c3"
run_script "$T/c3" RANK=0 LOCAL_RANK=0 WORLD_SIZE=3 LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 \
	MASTER_PORT=29500 PYTHONPATH="$STANDIN" STANDIN_RECORD_DIR="$T/c3" -- \
	--mock-data --expert-parallel-size 3 --global-batch-size 6
assert_eq "$RC" 2 "EP not dividing the experts: exit status"
one_clear_line "$T/c3" "EP not dividing the experts"
assert_contains "$T/c3.err" "--expert-parallel-size 3 does not divide the 64 routed experts" \
	"EP not dividing the experts: message"

# Under the real rlaunch: each rank's config and environment are the ones rlaunch made.
# `single`: one GPU visible per rank, LOCAL_RANK 0..1 -> Bridge must use device 0.
mkdir "$T/c4"
CUDA_VISIBLE_DEVICES=0,1 PYTHONPATH="$STANDIN" STANDIN_RECORD_DIR="$T/c4" \
	rl --gpus-per-node 2 --master-port 0 --cuda-visible-devices single -- \
	"$PY" "$SCRIPT" --mock-data --expert-parallel-size 2 --global-batch-size 8 \
	>"$T/c4.out" 2>"$T/c4.err"
assert_eq "$?" 0 "stand-in under rlaunch (single): exit status ($(cat "$T/c4.err"))"
for r in 0 1; do
	R="$T/c4/rank$r.json"
	[ -f "$R" ] || die "rank $r recorded nothing under rlaunch: $(cat "$T/c4.err")"
	expect_fields "$R" "rlaunch single, rank $r" env.RANK="$r" env.WORLD_SIZE=2 \
		env.LOCAL_RANK="$r" env.CUDA_VISIBLE_DEVICES="$r" config.dist.local_rank="$r" \
		config.dist.external_gpu_device_mapping=true config.model.expert_model_parallel_size=2
	assert_contains "$T/c4.out" "[rank$r]:pretrain_deepseek_v2_lite: rank $r/2 local_rank $r/2" \
		"rlaunch single: rank $r's place"
done
# `reset` (default): CUDA_VISIBLE_DEVICES unset, LOCAL_RANK the physical GPU (4, 5).
mkdir "$T/c5"
CUDA_VISIBLE_DEVICES=4,5 PYTHONPATH="$STANDIN" STANDIN_RECORD_DIR="$T/c5" \
	rl --gpus-per-node 2 --master-port 0 -- \
	"$PY" "$SCRIPT" --mock-data --expert-parallel-size 2 --global-batch-size 8 \
	>"$T/c5.out" 2>"$T/c5.err"
assert_eq "$?" 0 "stand-in under rlaunch (reset): exit status ($(cat "$T/c5.err"))"
for r in 0 1; do
	R="$T/c5/rank$r.json"
	[ -f "$R" ] || die "rank $r recorded nothing under rlaunch: $(cat "$T/c5.err")"
	expect_fields "$R" "rlaunch reset, rank $r" env.RANK="$r" env.LOCAL_RANK="$((r + 4))" \
		env.CUDA_VISIBLE_DEVICES="<absent>" config.dist.local_rank="$((r + 4))" \
		config.dist.external_gpu_device_mapping=false
done
assert_no_leftovers "stand-in jobs"
pass

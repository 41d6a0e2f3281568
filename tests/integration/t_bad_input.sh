#!/bin/bash
# Bad flags, values and environment: one line naming the problem, exit 2,
# nothing started.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

check() { # description, then the rlaunch arguments; env via CUDA_VISIBLE_DEVICES
	local what=$1
	shift
	rm -f "$T/started"
	rl "$@" -- touch "$T/started" >"$T/out" 2>"$T/err"
	local rc=$?
	assert_eq "$rc" 2 "$what: exit status"
	assert_eq "$(wc -l < "$T/err")" 1 "$what: one line on stderr"
	grep -q '^rlaunch: ' "$T/err" || fail "$what: message not prefixed: $(cat "$T/err")"
	[ -e "$T/started" ] && fail "$what: the command was started"
}

export CUDA_VISIBLE_DEVICES=0,1
check "unknown flag" --frobnicate
check "zero GPUs" --gpus-per-node 0
check "non-numeric GPUs" --gpus-per-node four
check "missing value" --grace
check "negative grace" --grace -3
check "bad port" --master-port 70000
check "bad preset" --net roce
check "bad policy" --cuda-visible-devices all
check "bad env" --env NOVALUE
check "bad filter" --local-ranks-filter 1-
check "elastic nnodes" --nnodes 1:2
check "multi-node without rendezvous" --nodes 2
check "bad rendezvous kind" --rdzv etcd
check "tcp without endpoint" --rdzv tcp --nodes 2
check "bad endpoint" --rdzv-endpoint "host:port" --nodes 2
check "bad node address" --rdzv-endpoint 127.0.0.1:1 --nodes 2 --insecure --node-addr 300.1.1.1
check "no secret" --rdzv-endpoint 127.0.0.1:1 --nodes 2
assert_contains "$T/err" "RLAUNCH_TOKEN" "says how to set the secret"
check "bad rendezvous timeout" --rdzv-timeout 0
check "node rank out of range" --node-rank 1
check "more GPUs than visible" --gpus-per-node 3

for bad in "0,,x" "0,x" "," "-1" "0,0"; do
	CUDA_VISIBLE_DEVICES=$bad check "CUDA_VISIBLE_DEVICES='$bad'"
	assert_contains "$T/err" "CUDA_VISIBLE_DEVICES" "names the variable"
done
CUDA_VISIBLE_DEVICES=GPU-8d2f1c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6 check "UUIDs with reset"
assert_contains "$T/err" "--cuda-visible-devices single" "says what to do"

env -u CUDA_VISIBLE_DEVICES "$RLAUNCH" -- true 2>"$T/err"
rc=$?
if [ -d /proc/driver/nvidia/gpus ]; then
	echo "note: GPUs present; the no-GPU message is not checked"
else
	assert_eq "$rc" 2 "no GPUs and no count"
	assert_contains "$T/err" "pass --gpus-per-node" "asks for the flag"
fi

rl --gpus-per-node 2 2>"$T/err"
assert_eq "$?" 2 "no command"
assert_contains "$T/err" "no command given" "no command message"

rl --log-dir /proc/forbidden -- true 2>"$T/err"
assert_eq "$?" 2 "log dir that cannot be created"
assert_contains "$T/err" "cannot use log directory '/proc/forbidden'" "log dir message"
touch "$T/afile"
rl --log-dir "$T/afile" -- true 2>"$T/err"
assert_eq "$?" 2 "log dir that is a file"
assert_contains "$T/err" "Not a directory" "log dir that is a file: reason"

"$RLAUNCH" __rlaunch_worker 2>"$T/err"
assert_eq "$?" 2 "worker stage by hand"

# help and version
rl --help >"$T/out" || fail "--help exit status"
assert_contains "$T/out" "usage: rlaunch" "--help text"
rl --version >"$T/out" || fail "--version exit status"
grep -qE '^rlaunch [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || fail "--version output: $(cat "$T/out")"
assert_no_leftovers
pass

#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for a
# while on its corpus:  tests/fuzz/run.sh [SECONDS_PER_TARGET] [OUT_DIR]
# New inputs go to a scratch directory, not the committed corpus; a crash
# leaves its input in OUT_DIR (keep it as a regression seed in corpus/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-20}
out=${2:-$(mktemp -d /tmp/rlaunch-fuzz.XXXXXX)}
command -v clang >/dev/null || { echo "SKIP: clang is not installed (scripts/install-deps.sh)"; exit 77; }
mkdir -p "$out"
trap 'rm -rf "$out/build" "$out"/new-*' EXIT

common=(src/common/strv.c src/common/log.c src/common/parse.c src/common/write_all.c)
declare -A sources=(
	[wire]="src/rendezvous/wire.c"
	[hostlist]="src/bootstrap/hostlist.c"
	[options]="src/options/options.c"
	[env]="src/plan/cuda_devices.c src/bootstrap/node_addr.c src/bootstrap/bootstrap.c src/bootstrap/hostlist.c src/bootstrap/node_gpus.c src/common/nvml.c src/common/dlopen_first.c"
)
mkdir -p "$out/build"
status=0
for t in wire hostlist options env; do
	# shellcheck disable=SC2086 # word lists of files
	(cd "$root" && clang -g -O1 -D_GNU_SOURCE -std=gnu11 -Iinclude \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		"tests/fuzz/fuzz_$t.c" ${sources[$t]} "${common[@]}" -ldl -o "$out/build/fuzz_$t")
	mkdir -p "$out/new-$t"
	echo "fuzz_$t: ${secs}s"
	if ! (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "$out/build/fuzz_$t" -max_total_time="$secs" \
		-max_len=4096 -timeout=10 -print_final_stats=1 "$out/new-$t" "$here/corpus/$t" \
		>"$out/fuzz_$t.log" 2>&1); then
		echo "fuzz_$t FAILED: see $out/fuzz_$t.log and the crash-* input in $out"
		tail -30 "$out/fuzz_$t.log"
		status=1
	else
		grep -E "^stat::number_of_executed_units" "$out/fuzz_$t.log" || true
	fi
done
[ "$status" = 0 ] && [ -z "${2:-}" ] && rm -rf "$out"
exit "$status"

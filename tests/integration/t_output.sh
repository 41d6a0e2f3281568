#!/bin/bash
# Rank output: [rankN]: prefixes, --no-prefix, --local-ranks-filter, --log-dir.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

emit='echo "out of $RANK"; echo "err of $RANK" >&2; printf "tail of $RANK"'

CUDA_VISIBLE_DEVICES=0,1,2 rl -- sh -c "$emit" >"$T/out" 2>"$T/err" || fail "prefix run"
for r in 0 1 2; do
	assert_contains "$T/out" "[rank$r]:out of $r" "stdout prefixed"
	assert_contains "$T/err" "[rank$r]:err of $r" "stderr prefixed"
	assert_contains "$T/out" "[rank$r]:tail of $r" "last line without newline kept"
done
assert_eq "$(wc -l < "$T/out")" 6 "stdout line count"

CUDA_VISIBLE_DEVICES=0,1 rl --no-prefix -- sh -c "$emit" >"$T/out" 2>"$T/err" || fail "no-prefix run"
assert_contains "$T/out" "out of 1" "unprefixed stdout"
assert_not_contains "$T/out" "[rank" "no prefix"

CUDA_VISIBLE_DEVICES=0,1,2,3 rl --local-ranks-filter 1,3 -- sh -c "$emit" >"$T/out" 2>"$T/err" ||
	fail "filter run"
assert_contains "$T/out" "[rank1]:out of 1" "rank 1 shown"
assert_contains "$T/out" "[rank3]:out of 3" "rank 3 shown"
assert_not_contains "$T/out" "[rank0]" "rank 0 hidden"
assert_not_contains "$T/err" "[rank2]" "rank 2 hidden"

CUDA_VISIBLE_DEVICES=0,1 rl --log-dir "$T/logs/nested" --local-ranks-filter 0 -- sh -c "$emit" \
	>"$T/out" 2>"$T/err" || fail "log-dir run"
for r in 0 1; do
	f="$T/logs/nested/rank$r.log"
	assert_contains "$f" "out of $r" "log file stdout"
	assert_contains "$f" "err of $r" "log file stderr"
	assert_not_contains "$f" "[rank" "log files are raw"
done
assert_not_contains "$T/out" "[rank1]" "filter applies to the console only"

# a long line arrives whole in the log and in pieces (never lost) on the console
CUDA_VISIBLE_DEVICES=0 rl --log-dir "$T/long" -- sh -c 'head -c 200000 /dev/zero | tr "\0" x; echo' \
	>"$T/out" 2>/dev/null || fail "long line run"
assert_eq "$(tr -d '\n' < "$T/long/rank0.log" | wc -c)" 200000 "long line in the log"
assert_eq "$(sed 's/^\[rank0\]://' "$T/out" | tr -d '\n' | wc -c)" 200000 "long line on the console"

# lines of different ranks never mix
CUDA_VISIBLE_DEVICES=0,1,2,3 rl -- sh -c 'i=0; while [ $i -lt 300 ]; do echo "line-$RANK-$i-end"; i=$((i+1)); done' \
	>"$T/out" 2>/dev/null || fail "interleave run"
assert_eq "$(grep -cvE '^\[rank([0-3])\]:line-\1-[0-9]+-end$' "$T/out")" 0 "every line intact"
assert_eq "$(wc -l < "$T/out")" 1200 "no line lost"
assert_no_leftovers
pass

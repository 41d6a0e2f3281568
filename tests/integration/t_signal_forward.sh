#!/bin/bash
# Signals sent to rlaunch reach every rank. TERM/INT/HUP/QUIT stop the job
# (rlaunch exits 128+signal); USR1/USR2 are only passed on. A second INT
# kills ranks that ignore the first.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# Each rank records the signal it got, then exits 0 (USR*) or 1 (others).
rank_script='
	got() { echo "$1" > "$OUT/got.$RANK"; exit "$2"; }
	trap "got TERM 1" TERM; trap "got INT 1" INT; trap "got HUP 1" HUP
	trap "got QUIT 1" QUIT; trap "got USR1 0" USR1; trap "got USR2 0" USR2
	touch "$OUT/ready.$RANK"
	while :; do sleep 0.05; done'

for sig in TERM INT HUP QUIT USR1 USR2; do
	out="$T/$sig"
	mkdir "$out"
	CUDA_VISIBLE_DEVICES=0,1,2 OUT="$out" rl_bg --grace 5 -- sh -c "$rank_script" 2>"$out/err"
	agent=$RL_PID
	wait_files 3 "$out/ready.*" 10 || die "$sig: ranks never became ready"
	kill -"$sig" "$agent"
	wait "$agent"
	rc=$?
	for r in 0 1 2; do
		assert_eq "$(cat "$out/got.$r" 2>/dev/null)" "$sig" "rank $r received SIG$sig"
	done
	case $sig in
	USR1 | USR2) assert_eq "$rc" 0 "SIG$sig is passed on and the job goes on" ;;
	*)
		signum=$(kill -l "$sig")
		assert_eq "$rc" $((128 + signum)) "exit status after SIG$sig"
		assert_contains "$out/err" "received SIG$sig" "SIG$sig reported"
		;;
	esac
	assert_no_leftovers "SIG$sig"
done

# second INT escalates to SIGKILL well before --grace
mkdir "$T/twice"
CUDA_VISIBLE_DEVICES=0,1 OUT="$T/twice" rl_bg --grace 60 -- sh -c '
	trap "" INT TERM; touch "$OUT/ready.$RANK"; while :; do sleep 0.05; done' 2>"$T/twice/err"
agent=$RL_PID
wait_files 2 "$T/twice/ready.*" 10 || die "ranks never became ready"
start=$(now)
kill -INT "$agent"
sleep 0.3
kill -INT "$agent"
wait "$agent"
rc=$?
took=$(elapsed_since "$start")
assert_eq "$rc" 130 "exit status after SIGINT"
less_than "$took" 3 || fail "second SIGINT did not kill promptly (${took}s)"
assert_contains "$T/twice/err" "sending SIGKILL" "escalation reported"
assert_no_leftovers "second INT"
pass

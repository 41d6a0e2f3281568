#!/bin/bash
# A console that stops reading (a terminal paused with Ctrl-S, `rlaunch | less`
# left alone, a wedged srun) must not stall the agent: heartbeats, signals and
# the reaping of ranks go on, while the ranks that print feel the
# backpressure, as they would on a terminal of their own. Once the console
# reads again, every line arrives, whole and in order. A console that reads
# slowly gets everything before rlaunch exits; one that never reads again
# delays the exit by 10 s at most.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export RLAUNCH_TOKEN="console-$RANDOM$RANDOM"
export CUDA_VISIBLE_DEVICES=0,1
LINES=20000 # about 1.3 MB per rank: more than the pipes and the agent's queue hold
PAD=........................................
chatter='i=0; while [ $i -lt '$LINES' ]; do echo "rank $RANK line $i '$PAD'"; i=$((i + 1)); done
touch "$OUT/printed.$RANK"; exec sleep 120'
export OUT="$T"

# --- two nodes; the member's console stalls for longer than the 10 s heartbeat bound
mkfifo "$T/console"
PORT=$(free_port)
agent "$T/coord.out" 127.0.0.1 --rdzv-endpoint "127.0.0.1:$PORT" --nodes 2 --grace 2 -- sh -c "$chatter"
wait_listen "$PORT" || die "the coordinator never listened"
env RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" --node-addr 127.0.0.2 --rdzv-endpoint "127.0.0.1:$PORT" \
	--nodes 2 --grace 2 -- sh -c "$chatter" >"$T/console" 2>"$T/member.err" &
AGENTS+=($!)
exec 7<"$T/console" # the member's console: open, never read
wait_files 2 "$T/printed.[01]" 30 || fail "the coordinator's ranks did not get their lines out"
sleep 13 # longer than a node may be silent
for pid in "${AGENTS[@]}"; do
	kill -0 "$pid" 2>/dev/null || fail "an agent ended while the member's console stalled"
done
assert_not_contains "$T/coord.out" "silent" "the member's heartbeats went on"
[ -e "$T/printed.2" ] && fail "rank 2 printed 1.3 MB into a console that did not read"
cat <&7 >"$T/member.out" &
reader=$!
exec 7<&-
wait_files 2 "$T/printed.[23]" 30 || fail "the member's ranks did not get their lines out once the console read again"
kill -TERM "${AGENTS[0]}"
start=$(now)
wait_agents
took=$(elapsed_since "$start")
wait "$reader"
assert_eq "${RCS[*]}" "143 143" "SIGTERM ends the job on both nodes"
less_than "$took" 5 || fail "the job took ${took}s to stop (grace 2 s)"
for r in 2 3; do
	got=$(grep -c "^\[rank$r\]:rank $r line " "$T/member.out")
	assert_eq "$got" "$LINES" "rank $r: lines on the member's console"
	grep "^\[rank$r\]:rank $r line " "$T/member.out" | awk -v r="$r" -v pad="$PAD" '
		$0 != sprintf("[rank%d]:rank %d line %d %s", r, r, NR - 1, pad) { bad = NR; exit }
		END { exit bad ? 1 : 0 }' || fail "rank $r: lines out of order or broken on the member's console"
done
assert_no_leftovers "stalled member console"
rm -f "$T"/printed.*

# --- a slow console (60 KB/s) at exit: everything arrives before rlaunch exits ------
# (the rank prints 0.8 MB at once, and they take 14 s to get through: longer
# than the 10 s a console may make no progress, so progress has to show while
# the queue drains)
/usr/bin/python3 -c '
import os, sys, time
while True:
    b = os.read(0, 4096)
    if not b:
        break
    os.write(1, b)
    time.sleep(4096 / 60000)' <"$T/console" >"$T/slow.out" &
reader=$!
rl --gpus-per-node 1 -- sh -c 'exec awk -v r="$RANK" -v pad="$1" \
	"BEGIN { for (i = 0; i < 12000; i++) printf \"rank %d line %d %s\\n\", r, i, pad }"' sh "$PAD" \
	>"$T/console" 2>&1
assert_eq "$?" 0 "a slow console at exit"
wait "$reader"
assert_eq "$(grep -c "^\[rank0\]:rank 0 line " "$T/slow.out")" 12000 "every line reached the slow console"
assert_eq "$(tail -n 1 "$T/slow.out")" "[rank0]:rank 0 line 11999 $PAD" "the last line, whole"
assert_no_leftovers "slow console"

# --- one node, a console that never reads again: SIGTERM still ends everything -----
# (started in the background: opening the FIFO waits for its reader)
env RLAUNCH_TEST_MARK="$MARK" "$RLAUNCH" --gpus-per-node 2 --grace 2 -- sh -c "$chatter" \
	>"$T/console" 2>&1 &
RL_PID=$!
exec 7<"$T/console"
sleep 2
start=$(now)
kill -TERM "$RL_PID"
wait "$RL_PID"
rc=$?
took=$(elapsed_since "$start")
exec 7<&-
assert_eq "$rc" 143 "SIGTERM with a console that never reads"
less_than "$took" 14 || fail "rlaunch took ${took}s to exit (bound: grace 2 s + 10 s for the console)"
assert_no_leftovers "console that never reads"
pass

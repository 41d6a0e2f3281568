#!/bin/bash
# Several agents on loopback, each with its own address, through --rdzv tcp:
# placement by numeric address order, job-wide failure handling, lost
# agents, a missing agent, a wrong token, and hostile bytes on the port.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export RLAUNCH_TOKEN="test-token-$RANDOM$RANDOM"
export CUDA_VISIBLE_DEVICES=0,1
PORT=$(free_port)
EP="127.0.0.1:$PORT"
dump='env > "$OUT/env.$RANK"; echo "rank $RANK of $WORLD_SIZE"'

# --- placement: 127.0.0.9 < 127.0.0.10 < 127.0.0.100 -------------------------------
mkdir "$T/place"
for a in 127.0.0.100 127.0.0.9 127.0.0.10; do
	OUT="$T/place" agent "$T/place/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 3 -- sh -c "$dump"
done
wait_agents
assert_eq "${RCS[*]}" "0 0 0" "every agent exits 0"
for r in 0 1 2 3 4 5; do
	f="$T/place/env.$r"
	[ -f "$f" ] || { fail "rank $r did not run"; continue; }
	assert_contains "$f" "WORLD_SIZE=6" "WORLD_SIZE"
	assert_contains "$f" "MASTER_ADDR=127.0.0.9" "lowest address is MASTER_ADDR"
	assert_contains "$f" "NODE_RANK=$((r / 2))" "NODE_RANK of rank $r"
	assert_contains "$f" "LOCAL_RANK=$((r % 2))" "LOCAL_RANK of rank $r"
done
assert_contains "$T/place/agent.127.0.0.9" "[rank0]:rank 0 of 6" "node 0 is 127.0.0.9"
assert_contains "$T/place/agent.127.0.0.10" "[rank2]:rank 2 of 6" "node 1 is 127.0.0.10"
assert_contains "$T/place/agent.127.0.0.100" "[rank4]:rank 4 of 6" "node 2 is 127.0.0.100"
run_id=$(sed -n 's/^TORCHELASTIC_RUN_ID=//p' "$T/place/env.0")
assert_eq "$(sed -n 's/^TORCHELASTIC_RUN_ID=//p' "$T/place/env.5")" "$run_id" "one run id job-wide"
assert_no_leftovers "placement"

# --- a rank on the second node fails: every node comes down ----------------------
mkdir "$T/fail"
start=$(now)
for a in 127.0.0.1 127.0.0.2 127.0.0.3; do
	agent "$T/fail/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 3 --grace 2 -- sh -c '
		if [ "$RANK" = 3 ]; then sleep 0.5; exit 3; fi; exec sleep 60'
done
wait_agents
took=$(elapsed_since "$start")
assert_eq "${RCS[*]}" "3 3 3" "every agent exits with the failing rank's status"
less_than "$took" 4 || fail "job took ${took}s to come down (grace 2 s)"
cat "$T"/fail/agent.* > "$T/fail/all"
assert_contains "$T/fail/all" "Root Cause (first observed failure)" "report on the coordinator"
assert_contains "$T/fail/all" "rank      : 3 (local_rank: 1)" "report names the rank"
assert_contains "$T/fail/all" "node rank : 1" "report names the node"
assert_contains "$T/fail/all" "job failed: rank 3 on" "other agents say who failed"
assert_no_leftovers "rank failure"

# --- an agent killed with SIGKILL: the others notice and end the job ------------
# victim 0 is the coordinator's agent (it starts first and serves), 1 a member
for victim in 0 1; do
	mkdir "$T/kill$victim"
	for a in 127.0.0.1 127.0.0.2; do
		OUT="$T/kill$victim" agent "$T/kill$victim/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 2 \
			--grace 2 -- sh -c 'touch "$OUT/ready.$RANK"; exec sleep 60'
		[ "$a" = 127.0.0.1 ] && { wait_listen "$PORT" || die "the coordinator never listened"; }
	done
	wait_files 4 "$T/kill$victim/ready.*" 20 || die "ranks never became ready"
	kill -KILL "${AGENTS[$victim]}"
	start=$(now)
	wait_agents
	took=$(elapsed_since "$start")
	if [ "$victim" = 0 ]; then
		assert_eq "${RCS[*]}" "137 74" "coordinator killed: the member exits 74"
		assert_contains "$T/kill0/agent.127.0.0.2" "lost contact with the coordinator" "member says why"
	else
		assert_eq "${RCS[*]}" "74 137" "member killed: the coordinator exits 74"
		assert_contains "$T/kill1/agent.127.0.0.1" "lost contact with node 1" "coordinator names the node"
	fi
	less_than "$took" 4 || fail "took ${took}s to notice the lost agent"
	sleep 0.3 # the killed agent's ranks get their parent-death signal
	assert_no_leftovers "agent $victim killed"
done

# --- an agent stopped with SIGSTOP (a hang TCP cannot see): silence ends the job ----
mkdir "$T/stop"
for a in 127.0.0.1 127.0.0.2; do
	OUT="$T/stop" agent "$T/stop/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 2 --grace 2 -- sh -c '
		touch "$OUT/ready.$RANK"; exec sleep 120'
	[ "$a" = 127.0.0.1 ] && { wait_listen "$PORT" || die "the coordinator never listened"; }
done
wait_files 4 "$T/stop/ready.*" 20 || die "ranks never became ready"
kill -STOP "${AGENTS[1]}"
start=$(now)
wait "${AGENTS[0]}"
rc=$?
took=$(elapsed_since "$start")
assert_eq "$rc" 74 "the coordinator ends the job when a node falls silent"
assert_contains "$T/stop/agent.127.0.0.1" "has been silent" "says why"
less_than "$took" 16 || fail "took ${took}s to notice a stopped agent (limit 10 s)"
kill -CONT "${AGENTS[1]}" # when it wakes up, it finds the job gone and stops its ranks
wait "${AGENTS[1]}"
assert_eq "$?" 74 "the stopped agent, woken, ends with 74"
AGENTS=()
assert_no_leftovers "agent stopped with SIGSTOP"

# --- a SIGTERM to one agent reaches every rank on every node ---------------------
mkdir "$T/term"
for a in 127.0.0.1 127.0.0.2; do
	OUT="$T/term" agent "$T/term/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 2 -- sh -c '
		trap "echo TERM > \"\$OUT/got.\$RANK\"; exit 0" TERM
		touch "$OUT/ready.$RANK"; while :; do sleep 0.05; done'
done
wait_files 4 "$T/term/ready.*" 20 || die "ranks never became ready"
kill -TERM "${AGENTS[1]}"
wait_agents
assert_eq "${RCS[*]}" "143 143" "every agent exits 128+SIGTERM"
for r in 0 1 2 3; do
	assert_eq "$(cat "$T/term/got.$r" 2>/dev/null)" "TERM" "rank $r got SIGTERM"
done
assert_no_leftovers "SIGTERM to one agent"

# --- a missing agent: the rendezvous times out and says who came -----------------
mkdir "$T/missing"
for a in 127.0.0.1 127.0.0.2; do
	agent "$T/missing/agent.$a" "$a" --rdzv-endpoint "$EP" --nodes 3 --rdzv-timeout 2 -- true
done
wait_agents
assert_eq "${RCS[*]}" "75 75" "rendezvous timeout status"
cat "$T"/missing/agent.* > "$T/missing/all"
assert_contains "$T/missing/all" "2 of 3 agents joined, 1 missing" "counts who is missing"
assert_contains "$T/missing/all" "(127.0.0.2)" "lists who came"
assert_no_leftovers "missing agent"

# --- a wrong token is refused; the job goes on ------------------------------------
mkdir "$T/token"
OUT="$T/token" agent "$T/token/agent.1" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'sleep 1; echo ok > "$OUT/ran.$RANK"'
sleep 0.3
RLAUNCH_TOKEN=wrong agent "$T/token/intruder" 127.0.0.3 --rdzv-endpoint "$EP" --nodes 2 -- true
wait "${AGENTS[1]}"
assert_eq "$?" 77 "wrong token: exit status"
assert_contains "$T/token/intruder" "authentication failed" "wrong token: reason"
AGENTS=("${AGENTS[0]}")
OUT="$T/token" agent "$T/token/agent.2" 127.0.0.2 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'sleep 1; echo ok > "$OUT/ran.$RANK"'
wait_agents
assert_eq "${RCS[*]}" "0 0" "the job is unaffected by the intruder"
assert_eq "$(cat "$T"/token/ran.* | wc -l)" 4 "every rank ran"
assert_contains "$T/token/agent.1" "wrong job token" "the coordinator logs the intruder"
assert_no_leftovers "wrong token"

# --- a second agent on one address, or one told another job size, is refused alone -
mkdir "$T/dup"
OUT="$T/dup" agent "$T/dup/agent.1" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
wait_listen "$PORT" || die "the coordinator never listened"
agent "$T/dup/same-addr" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 -- true
wait "${AGENTS[1]}"
assert_eq "$?" 2 "second agent on one address: exit status"
assert_contains "$T/dup/same-addr" "already joined with address 127.0.0.1" "second agent on one address: reason"
agent "$T/dup/other-size" 127.0.0.3 --rdzv-endpoint "$EP" --nodes 3 -- true
wait "${AGENTS[2]}"
assert_eq "$?" 2 "agent told another job size: exit status"
assert_contains "$T/dup/other-size" "pass the same --nodes everywhere" "agent told another job size: reason"
AGENTS=("${AGENTS[0]}")
OUT="$T/dup" agent "$T/dup/agent.2" 127.0.0.2 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
wait_agents
assert_eq "${RCS[*]}" "0 0" "the job goes on with the right agents"
assert_eq "$(cat "$T"/dup/ran.* | wc -l)" 4 "every rank ran"
assert_no_leftovers "refused newcomers"

# --- a node lost after its attempt ended: no restart without it, no hang -----------
mkdir "$T/lostdone"
OUT="$T/lostdone" agent "$T/lostdone/agent.1" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 \
	--max-restarts 2 --grace 5 -- sh -c '
	echo x >> "$OUT/runs.$RANK"
	trap "sleep 1.5; exit 0" TERM; touch "$OUT/ready.$RANK"; while :; do sleep 0.05; done'
wait_listen "$PORT" || die "the coordinator never listened"
OUT="$T/lostdone" agent "$T/lostdone/agent.2" 127.0.0.2 --rdzv-endpoint "$EP" --nodes 2 \
	--max-restarts 2 --grace 5 -- sh -c '
	echo x >> "$OUT/runs.$RANK"
	touch "$OUT/ready.$RANK"; [ "$RANK" = 3 ] && { sleep 0.3; exit 3; }; exec sleep 60'
wait_files 4 "$T/lostdone/ready.*" 20 || die "ranks never became ready"
sleep 0.8 # rank 3 failed, node 1 is done, node 0's ranks are still stopping
kill -KILL "${AGENTS[1]}"
start=$(now)
wait_agents
took=$(elapsed_since "$start")
assert_eq "${RCS[0]}" 3 "the coordinator ends with the failing rank's status"
less_than "$took" 5 || fail "took ${took}s after losing a finished node"
assert_not_contains "$T/lostdone/agent.1" "restarting" "no restart without the lost node"
assert_eq "$(cat "$T/lostdone/runs.0")" "x" "rank 0 ran once"
sleep 0.3
assert_no_leftovers "node lost after its attempt"

# --- garbage, oversized frames and half-open connections on the port -------------
mkdir "$T/garbage"
OUT="$T/garbage" agent "$T/garbage/agent.1" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
sleep 0.3
exec 5<>"/dev/tcp/127.0.0.1/$PORT" # half-open: connects, never speaks
exec 6<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&6
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
printf '\x7f\xff\xff\xff\x02' >&7 # a 2 GiB frame length
head -c 4096 /dev/urandom >"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
OUT="$T/garbage" agent "$T/garbage/agent.2" 127.0.0.2 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
wait_agents
exec 5>&- 6>&- 7>&-
assert_eq "${RCS[*]}" "0 0" "the job is unaffected by hostile bytes"
assert_eq "$(cat "$T"/garbage/ran.* | wc -l)" 4 "every rank ran"
assert_contains "$T/garbage/agent.1" "dropped connection from 127.0.0.1" "strangers are logged"
assert_no_leftovers "hostile bytes"
pass

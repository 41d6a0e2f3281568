#!/bin/bash
# Hostile peers on the coordinator port while a real job waits for its
# second agent: a replayed handshake, a slow-loris, a thousand connections
# opened and dropped; then a host that holds a thousand connections open
# (and reopens every one dropped) while the second agent joins. The job is
# unaffected; strangers are dropped and logged, rate-limited.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

export RLAUNCH_TOKEN="hostile-$RANDOM$RANDOM"
export CUDA_VISIBLE_DEVICES=0
PORT=$(free_port)
EP="127.0.0.1:$PORT"

OUT="$T" agent "$T/agent.1" 127.0.0.1 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
wait_listen "$PORT" || die "the coordinator never listened"

/usr/bin/python3 - "$PORT" "$RLAUNCH_TOKEN" >"$T/hostile.log" 2>&1 <<'PY' || fail "hostile client: $(cat "$T/hostile.log")"
import hmac, hashlib, os, socket, struct, sys, time
port, token = int(sys.argv[1]), sys.argv[2].encode()

def frames(sock, want):
    buf = b""
    while len(buf) < want:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf

def hello(sock):
    data = frames(sock, 4 + 1 + 2 + 32)
    assert data[4] == 1, "expected HELLO"
    return data[7:39]

def auth(ns, nc):
    mac = hmac.new(token, b"rlaunch-v1 client" + ns + nc, hashlib.sha256).digest()
    payload = struct.pack(">H", 1) + nc + mac
    return struct.pack(">IB", len(payload) + 1, 2) + payload

# 1. a replay: a valid AUTH for one connection's nonce, sent on another
a = socket.create_connection(("127.0.0.1", port))
nc = os.urandom(32)
valid = auth(hello(a), nc)
b = socket.create_connection(("127.0.0.1", port))
hello(b)
b.sendall(valid)
reply = frames(b, 5)
assert reply[4:5] == bytes([12]), f"the replay was not rejected: {reply[:8]!r}"
a.close(); b.close()

# 2. a slow-loris: a plausible AUTH frame, one byte a second; dropped at the
#    3 s handshake limit
s = socket.create_connection(("127.0.0.1", port))
hello(s)
t0 = time.time()
try:
    for byte in auth(os.urandom(32), os.urandom(32))[:10]:
        s.send(bytes([byte]))
        time.sleep(1)
except OSError:
    pass
elapsed = time.time() - t0
s.close()
assert elapsed < 6, f"slow-loris kept for {elapsed:.1f} s"

# 3. a thousand connections, opened and dropped as fast as possible
for _ in range(1000):
    c = socket.create_connection(("127.0.0.1", port))
    c.close()
print("hostile client done")
PY

# 4. a flood from one stranger host (127.0.0.66) that keeps 1000 connections open
/usr/bin/python3 - "$PORT" >"$T/flood.log" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
def conn():  # never blocks: a full accept queue must not stall the flood
    s = socket.socket()
    s.bind(("127.0.0.66", 0))
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    return s
socks = [conn() for _ in range(1000)]
print("holding", len(socks), flush=True)
t0, reopened = time.time(), 0
while time.time() - t0 < 10:
    for i, s in enumerate(socks):
        try:
            if s.recv(4096):
                continue
        except BlockingIOError:
            continue
        except OSError:
            pass
        s.close()
        socks[i] = conn()
        reopened += 1
    time.sleep(0.05)
print("reopened", reopened, flush=True)
PY
flood=$!
wait_files 1 "$T/flood.log" 10 && for _ in $(seq 200); do grep -q holding "$T/flood.log" && break; sleep 0.05; done
grep -q holding "$T/flood.log" || fail "the flood never got going: $(cat "$T/flood.log")"
start=$(now)
OUT="$T" agent "$T/agent.2" 127.0.0.2 --rdzv-endpoint "$EP" --nodes 2 -- sh -c 'echo ok > "$OUT/ran.$RANK"'
wait_agents
took=$(elapsed_since "$start")
echo "the second agent joined and finished in ${took}s during the flood"
kill -0 "$flood" 2>/dev/null || fail "the flood was over before the job ended: the test proves nothing"
wait "$flood"
less_than "$took" 5 || fail "the second agent took ${took}s to join and finish during the flood"
assert_eq "${RCS[*]}" "0 0" "the job is unaffected"
assert_eq "$(cat "$T"/ran.* | wc -l)" 2 "every rank ran"
assert_contains "$T/agent.1" "wrong job token" "the replay is logged as a bad proof"
assert_contains "$T/agent.1" "no authentication within 3 s" "the slow-loris is dropped"
dropped=$(grep -c "dropped connection" "$T/agent.1")
less_than "$dropped" 30 || fail "a thousand strangers gave $dropped log lines: not rate-limited"
assert_contains "$T/agent.1" "more rejected connections not shown" "the rest are counted"
assert_no_leftovers "hostile peers"
pass

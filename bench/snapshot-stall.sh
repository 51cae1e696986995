#!/usr/bin/env bash
# The longest stall a snapshot (BGSAVE) causes: loads KEYS keys (default 1,000,000) into a Shoal node, keeps it
# busy with redis-benchmark (GET from 10 clients, SET from 10 more), and while BGSAVE runs measures the slowest GET and the
# slowest SET of two probe clients that send one command at a time. Prints those next to the same probes with no
# snapshot running, and the node's own `snapshot_longest_lock_hold_us`.
# Usage: bench/snapshot-stall.sh [keys]   (SHOAL_BIN=path runs that binary instead of building one; LOADERS=0
# leaves out the redis-benchmark load, for a light run on a busy machine)
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${1:-1000000}
PORT=${SHOAL_PORT:-16580}

if ! command -v redis-benchmark >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-tools >/dev/null
fi
BIN=${SHOAL_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release -q -p server
    BIN=${CARGO_TARGET_DIR:-target}/release/shoal-server
fi
WORK=$(mktemp -d)
"$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --loglevel warning --save '' \
    --auto-aof-rewrite-percentage 0 &
PID=$!
LOAD_PID=""
trap 'kill $PID ${LOAD_PID:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

python3 - "$KEYS" >"$WORK/load.resp" <<'EOF'
import sys
out = sys.stdout
for i in range(int(sys.argv[1])):
    k = f"key:{i}"
    v = f"value-{i:012d}"
    out.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")
EOF
redis-cli -p "$PORT" --pipe <"$WORK/load.resp" | tail -1
echo "dbsize: $(redis-cli -p "$PORT" dbsize)"

# Probe: sends GET and SET one at a time for $1 seconds; prints count, median and max latency in ms of each.
probe() {
    python3 - "$PORT" "$1" <<'EOF'
import socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat = {"GET": [], "SET": []}
cmds = {"GET": b"*2\r\n$3\r\nGET\r\n$5\r\nkey:7\r\n", "SET": b"*3\r\n$3\r\nSET\r\n$5\r\nprobe\r\n$1\r\nx\r\n"}
end = time.time() + secs
while time.time() < end:
    for name, c in cmds.items():
        t = time.perf_counter()
        s.sendall(c)
        buf = b""
        while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2):
            buf += s.recv(4096)
        lat[name].append((time.perf_counter() - t) * 1000)
for name, l in lat.items():
    l.sort()
    print(f"{name}: {len(l)} probes, median {l[len(l)//2]:.2f} ms, max {l[-1]:.2f} ms")
EOF
}

if [ "${LOADERS:-1}" != 0 ]; then
    redis-benchmark -p "$PORT" -c 10 -n 100000000 -r "$KEYS" -t get -d 20 -q >/dev/null 2>&1 &
    LOAD_PID=$!
    redis-benchmark -p "$PORT" -c 10 -n 100000000 -r "$KEYS" -t set -d 20 -q >/dev/null 2>&1 &
    LOAD_PID="$LOAD_PID $!"
    sleep 1
fi
echo "--- under load, no snapshot (3 s)"
probe 3
echo "--- under load, BGSAVE of $KEYS keys"
( sleep 0.5; redis-cli -p "$PORT" bgsave >/dev/null ) &
probe 4
redis-cli -p "$PORT" info persistence | grep -E "rdb_saves|rdb_last_bgsave_status|snapshot_" | tr -d '\r'

#!/usr/bin/env bash
# Instructions the server spends per sorted-set range command, counted by callgrind (repeatable on a busy
# machine, unlike ops/s). Loads a 1,000-member sorted set `top` (scores 0..999, members `member:<i>`), then for
# each command runs a fixed batch with redis-benchmark (1 client, -P 16) between zeroing and dumping the
# counters, and prints instructions per command (the whole process: parsing, the command, the reply, the
# event loop; Raft's background timers add a little). Usage: bench/zset-callgrind.sh [binary] [requests]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-${CARGO_TARGET_DIR:-target}/release/shoal-server}
N=${2:-20000}
PORT=${SHOAL_PORT:-16590}
WORK=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" \
    "$BIN" --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --loglevel warning --save '' \
    --auto-aof-rewrite-percentage 0 >"$WORK/vg.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 600); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done

python3 - >"$WORK/load.resp" <<'EOF'
import sys
args = ["ZADD", "top"]
for i in range(1000):
    args += [str(i), f"member:{i}"]
out = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
sys.stdout.write(out)
EOF
redis-cli -p "$PORT" --pipe <"$WORK/load.resp" >/dev/null
echo "zcard: $(redis-cli -p "$PORT" zcard top), encoding: $(redis-cli -p "$PORT" object encoding top)"

measure() {
    callgrind_control -z "$PID" >/dev/null 2>&1
    redis-benchmark -p "$PORT" -c 1 -P 16 -n "$N" -q "$@" >/dev/null 2>&1
    rm -f "$WORK"/cg.out.*
    callgrind_control -d "$PID" >/dev/null 2>&1
    local f
    f=$(ls "$WORK"/cg.out.* | head -1)
    local total
    total=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
    printf '%-40s %10d instructions/command\n' "$*" $((total / N))
}

measure ZRANGE top 0 9 REV
measure ZRANGE top 0 9
measure ZREVRANGE top 0 9
measure ZREVRANGE top 0 9 WITHSCORES
measure ZRANGE top 0 9 REV WITHSCORES
measure ZRANGEBYSCORE top 0 99 LIMIT 0 10
measure ZRANGE top +inf -inf BYSCORE REV LIMIT 0 10
measure ZRANGE top 500 599
measure ZRANGE top 0 99 REV

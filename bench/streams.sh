#!/usr/bin/env bash
# Streams side by side with redis-server, both persisting the same way: Shoal's default log (appendfsync
# everysec) against redis-server `appendonly yes appendfsync everysec`, both with `save ''` and the default
# stream node limits (stream-node-max-entries 100, stream-node-max-bytes 4096).
#   throughput: XADD s * (N entries into one stream), XADD with MAXLEN ~ 10000 into another, then
#               XREADGROUP GROUP g c COUNT 1 STREAMS s > (each call delivers one new entry and adds it to the
#               PEL, N calls drain the N entries), then XRANGE s - + COUNT 10; at each -P, 50 clients.
#   memory:     ENTRIES entries of 3 short fields added to one stream with redis-cli --pipe; used_memory delta
#               per entry, and the same stream after one consumer group read it all (PEL entries).
# Usage: bench/streams.sh [requests-per-test]   (env: PARTS="throughput memory", PIPELINES, CLIENTS, ENTRIES,
#        REDIS_PORT, SHOAL_PORT; SHOAL_BIN runs that binary instead of building the release one)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
PARTS=${PARTS:-"throughput memory"}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
ENTRIES=${ENTRIES:-200000}
REDIS_PORT=${REDIS_PORT:-16581}
SHOAL_PORT=${SHOAL_PORT:-16582}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

if [[ -n "${SHOAL_BIN:-}" ]]; then
    SHOAL=$SHOAL_BIN
else
    cargo build --release -q -p server
    SHOAL=${CARGO_TARGET_DIR:-target}/release/shoal-server
fi
WORK=$(mktemp -d)
SHOAL_PID=""
stop_all() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    if [[ -n "$SHOAL_PID" ]]; then
        kill "$SHOAL_PID" 2>/dev/null && wait "$SHOAL_PID" 2>/dev/null || true
        SHOAL_PID=""
    fi
}
trap 'stop_all; rm -rf "$WORK"' EXIT

wait_port() {
    for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "port $1 did not answer" >&2
    return 1
}

start_redis() {
    rm -rf "$WORK/redis" && mkdir -p "$WORK/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
        --dir "$WORK/redis" --daemonize yes --logfile "$WORK/redis.log"
    wait_port "$REDIS_PORT"
}

start_shoal() {
    rm -rf "$WORK/shoal" && mkdir -p "$WORK/shoal"
    "$SHOAL" --port "$SHOAL_PORT" --bind 127.0.0.1 --dir "$WORK/shoal" --loglevel warning --save '' &
    SHOAL_PID=$!
    wait_port "$SHOAL_PORT"
}

echo "persistence: shoal default log (appendfsync everysec) / redis-server appendonly yes appendfsync everysec;"
echo "both save ''; stream-node-max-entries 100, stream-node-max-bytes 4096 (both defaults)"
echo

# --- throughput -------------------------------------------------------------------------------------------------

# One redis-benchmark run of an arbitrary command, printed as "NAME rps".
bench_cmd() {
    local port=$1 P=$2 name=$3
    shift 3
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$P" -n "$N" --csv "$@" 2>/dev/null |
        tail -n +2 | tr -d '"' | awk -F, -v n="$name" '{print n, $2}'
}

# Prints "NAME rps" lines for one server; checks that XREADGROUP delivered every entry once.
bench_server() {
    local port=$1 P=$2
    redis-cli -p "$port" flushall >/dev/null
    bench_cmd "$port" "$P" XADD XADD s '*' f v
    bench_cmd "$port" "$P" XADD_MAXLEN~10000 XADD capped MAXLEN '~' 10000 '*' f v
    redis-cli -p "$port" xgroup create s g 0 >/dev/null
    bench_cmd "$port" "$P" XREADGROUP XREADGROUP GROUP g c COUNT 1 STREAMS s '>'
    local pending
    pending=$(redis-cli -p "$port" xpending s g | head -1)
    [[ "$pending" == "$N" ]] || echo "port $port: $pending pending after $N XREADGROUP, expected $N" >&2
    bench_cmd "$port" "$P" XRANGE_10 XRANGE s - + COUNT 10
}

if [[ " $PARTS " == *" throughput "* ]]; then
    printf "%-19s %-3s %12s %12s %7s\n" test -P "redis ops/s" "shoal ops/s" ratio
    for P in $PIPELINES; do
        start_redis
        bench_server "$REDIS_PORT" "$P" >"$WORK/redis.out"
        stop_all
        start_shoal
        bench_server "$SHOAL_PORT" "$P" >"$WORK/shoal.out"
        stop_all
        join <(sort "$WORK/redis.out") <(sort "$WORK/shoal.out") | while read -r t r s; do
            awk -v t="$t" -v p="$P" -v r="$r" -v s="$s" \
                'BEGIN { printf "%-19s %-3s %12.0f %12.0f %7.2f\n", t, p, r, s, s / r }'
        done
    done
    echo
fi

# --- memory -----------------------------------------------------------------------------------------------------

# RESP for XADD st <ms>-0 with 3 fields of 8-byte values (explicit IDs: both servers store the same entries).
gen_entries() {
    awk -v n="$1" 'BEGIN {
        for (i = 1; i <= n; i++) {
            id = sprintf("1%012d-0", i)
            printf "*9\r\n$4\r\nXADD\r\n$2\r\nst\r\n$%d\r\n%s\r\n", length(id), id
            printf "$4\r\nname\r\n$8\r\nu%07d\r\n", i % 10000000
            printf "$5\r\nprice\r\n$8\r\n%08d\r\n", i % 100000000
            printf "$4\r\nqty_\r\n$8\r\nq%07d\r\n", i % 1000
        }
    }'
}

used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

# Loads $2 into the server on port $1, prints "entries-delta pel-delta" (bytes): the stream, then what a group
# that read every entry (all pending) adds.
load_and_measure() {
    local port=$1 file=$2 before after
    sleep 1
    before=$(used_memory "$port")
    redis-cli -p "$port" --pipe <"$file" >"$WORK/pipe.log" 2>&1 || { cat "$WORK/pipe.log" >&2; return 1; }
    grep -q "errors: 0," "$WORK/pipe.log" || { cat "$WORK/pipe.log" >&2; return 1; }
    sleep 2
    after=$(used_memory "$port")
    redis-cli -p "$port" xgroup create st g 0 >/dev/null
    redis-cli -p "$port" xreadgroup group g c count "$ENTRIES" streams st '>' >/dev/null
    sleep 2
    echo "$((after - before)) $(($(used_memory "$port") - after))"
}

if [[ " $PARTS " == *" memory "* ]]; then
    gen_entries "$ENTRIES" >"$WORK/entries.resp"
    printf "%-34s %14s %14s %7s\n" "data set" "redis B/entry" "shoal B/entry" ratio
    start_redis
    read -r re rp <<<"$(load_and_measure "$REDIS_PORT" "$WORK/entries.resp")"
    [[ "$(redis-cli -p "$REDIS_PORT" xlen st)" == "$ENTRIES" ]] || echo "redis: xlen is not $ENTRIES" >&2
    stop_all
    start_shoal
    read -r se sp <<<"$(load_and_measure "$SHOAL_PORT" "$WORK/entries.resp")"
    [[ "$(redis-cli -p "$SHOAL_PORT" xlen st)" == "$ENTRIES" ]] || echo "shoal: xlen is not $ENTRIES" >&2
    stop_all
    awk -v k="$ENTRIES" -v re="$re" -v se="$se" -v rp="$rp" -v sp="$sp" 'BEGIN {
        printf "%-34s %14.1f %14.1f %7.2f\n", k " entries, 3 fields of 8 B", re / k, se / k, se / re
        printf "%-34s %14.1f %14.1f %7.2f\n", "+ one group, every entry pending", rp / k, sp / k, sp / rp }'
    echo "used_memory: Redis counts jemalloc's usable sizes, Shoal the requested sizes."
fi

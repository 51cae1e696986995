#!/usr/bin/env bash
# Collections side by side with redis-server, both persisting the same way: Shoal's default log (appendfsync
# everysec) against redis-server `appendonly yes appendfsync everysec`, both with `save ''` and Redis 7.0's
# built-in encoding thresholds passed explicitly to each.
#   throughput: LPUSH, RPOP, HSET, SADD, ZADD (redis-benchmark -t) and the top 10 of a 1,000-member sorted set
#               (ZREVRANGE key 0 9 WITHSCORES, ZRANGE key 0 9 REV) at each -P, 50 clients; Shoal/Redis ops/s.
#   memory:     100,000 hashes of 10 short fields, then (servers restarted) 1,000,000 small strings, loaded with
#               redis-cli --pipe into freshly started servers; used_memory (INFO memory) delta per key.
# Usage: bench/collections.sh [requests-per-test]   (env: PARTS="throughput memory", PIPELINES, CLIENTS,
#        HASHES, STRINGS, REDIS_PORT, SHOAL_PORT)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-200000}
PARTS=${PARTS:-"throughput memory"}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
HASHES=${HASHES:-100000}
STRINGS=${STRINGS:-1000000}
REDIS_PORT=${REDIS_PORT:-16579}
SHOAL_PORT=${SHOAL_PORT:-16580}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

cargo build --release -q -p server
SHOAL=${CARGO_TARGET_DIR:-target}/release/shoal-server
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

# Redis 7.0's built-in defaults (its sample redis.conf differs: hash-max-listpack-entries 128), given to both.
THRESHOLDS=(--hash-max-listpack-entries 512 --hash-max-listpack-value 64 --zset-max-listpack-entries 128
    --zset-max-listpack-value 64 --set-max-intset-entries 512 --list-max-listpack-size -2)

wait_port() {
    for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "port $1 did not answer" >&2
    return 1
}

start_redis() {
    rm -rf "$WORK/redis" && mkdir -p "$WORK/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
        "${THRESHOLDS[@]}" --dir "$WORK/redis" --daemonize yes --logfile "$WORK/redis.log"
    wait_port "$REDIS_PORT"
}

start_shoal() {
    rm -rf "$WORK/shoal" && mkdir -p "$WORK/shoal"
    "$SHOAL" --port "$SHOAL_PORT" --bind 127.0.0.1 --dir "$WORK/shoal" --loglevel warning --save '' \
        "${THRESHOLDS[@]}" &
    SHOAL_PID=$!
    wait_port "$SHOAL_PORT"
}

echo "persistence: shoal default log (appendfsync everysec) / redis-server appendonly yes appendfsync everysec;"
echo "both save ''; encoding thresholds: Redis 7.0 built-in defaults (${THRESHOLDS[*]})"
echo

# --- throughput -------------------------------------------------------------------------------------------------

# Prints "NAME rps" lines for one server.
bench_server() {
    local port=$1 P=$2 members=()
    redis-cli -p "$port" flushall >/dev/null
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$P" -d 16 -r 100000 -n "$N" \
        -t lpush,rpop,hset,sadd,zadd --csv 2>/dev/null |
        csv_rates
    for i in $(seq 1000); do members+=("$i" "member:$i"); done
    redis-cli -p "$port" zadd top "${members[@]}" >/dev/null
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$P" -n "$N" --csv \
        ZREVRANGE top 0 9 WITHSCORES 2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{print "ZREVRANGE_top10", $2}'
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$P" -n "$N" --csv \
        ZRANGE top 0 9 REV 2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{print "ZRANGE_REV_top10", $2}'
}

if [[ " $PARTS " == *" throughput "* ]]; then
    printf "%-17s %-3s %12s %12s %7s\n" test -P "redis ops/s" "shoal ops/s" ratio
    for P in $PIPELINES; do
        start_redis
        bench_server "$REDIS_PORT" "$P" >"$WORK/redis.out"
        stop_all
        start_shoal
        bench_server "$SHOAL_PORT" "$P" >"$WORK/shoal.out"
        stop_all
        join <(sort "$WORK/redis.out") <(sort "$WORK/shoal.out") | while read -r t r s; do
            awk -v t="$t" -v p="$P" -v r="$r" -v s="$s" \
                'BEGIN { printf "%-17s %-3s %12.0f %12.0f %7.2f\n", t, p, r, s, s / r }'
        done
    done
    echo
fi

# --- memory -----------------------------------------------------------------------------------------------------

# RESP for HSET h:<i> with 10 fields f0..f9 of 8-byte values, and for SET s:<i> with a 16-byte value (no integer
# values: Redis would share or int-encode those).
gen_hashes() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("h:%07d", i)
            printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
            for (j = 0; j < 10; j++) printf "$2\r\nf%d\r\n$8\r\nv%06d%d\r\n", j, i % 1000000, j
        }
    }'
}
gen_strings() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("s:%07d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\nvalue-%010d\r\n", length(k), k, i
        }
    }'
}

used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
rss() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory_rss" { print $2 }'; }

# Loads $2 into the server on port $1 and prints "used_memory-delta rss-delta" once the numbers settle.
load_and_measure() {
    local port=$1 file=$2 before rss_before
    sleep 1
    before=$(used_memory "$port")
    rss_before=$(rss "$port")
    redis-cli -p "$port" --pipe <"$file" >"$WORK/pipe.log" 2>&1 || { cat "$WORK/pipe.log" >&2; return 1; }
    grep -q "errors: 0," "$WORK/pipe.log" || { cat "$WORK/pipe.log" >&2; return 1; }
    sleep 2
    echo "$(($(used_memory "$port") - before)) $(($(rss "$port") - rss_before))"
}

if [[ " $PARTS " == *" memory "* ]]; then
    gen_hashes "$HASHES" >"$WORK/hashes.resp"
    gen_strings "$STRINGS" >"$WORK/strings.resp"
    printf "%-28s %14s %14s %7s %14s %14s\n" "data set" "redis B/key" "shoal B/key" ratio "redis rss/key" \
        "shoal rss/key"
    for spec in "hashes:$HASHES hashes, 10 fields" "strings:$STRINGS strings, 16 B values"; do
        name=${spec%%:*} label=${spec#*:}
        keys=${label%% *}
        start_redis
        out=$(load_and_measure "$REDIS_PORT" "$WORK/$name.resp")
        read -r rm rr <<<"$out"
        [[ "$(redis-cli -p "$REDIS_PORT" dbsize)" == "$keys" ]] || echo "redis: dbsize is not $keys" >&2
        stop_all
        start_shoal
        out=$(load_and_measure "$SHOAL_PORT" "$WORK/$name.resp")
        read -r sm sr <<<"$out"
        [[ "$(redis-cli -p "$SHOAL_PORT" dbsize)" == "$keys" ]] || echo "shoal: dbsize is not $keys" >&2
        stop_all
        awk -v l="$label" -v k="$keys" -v rm="$rm" -v sm="$sm" -v rr="$rr" -v sr="$sr" 'BEGIN {
            printf "%-28s %14.1f %14.1f %7.2f %14.1f %14.1f\n", l, rm / k, sm / k, sm / rm, rr / k, sr / k }'
    done
    echo "used_memory: Redis counts jemalloc's usable sizes, Shoal the requested sizes (RSS: what both pay)."
fi

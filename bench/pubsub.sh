#!/usr/bin/env bash
# Pub/sub fan-out side by side with redis-server (both `save ''`, Redis with appendonly no: PUBLISH is not
# persisted by either).
#   fan-out: SUBSCRIBERS raw connections (bash /dev/tcp + cat, so the readers are never the bottleneck)
#            subscribe to one channel; redis-benchmark publishes N messages of SIZE bytes from CLIENTS clients at
#            each -P. Reported: PUBLISH calls/s (redis-benchmark) and messages delivered/s (N x SUBSCRIBERS over
#            the time until every subscriber has received every byte).
# Usage: bench/pubsub.sh [messages-per-test]   (env: PIPELINES, CLIENTS, SUBSCRIBERS, SIZE, REDIS_PORT,
#        SHOAL_PORT, SHOAL=path to a shoal-server binary instead of building the release one)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100000}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-10}
SUBSCRIBERS=${SUBSCRIBERS:-50}
SIZE=${SIZE:-16}
REDIS_PORT=${REDIS_PORT:-16581}
SHOAL_PORT=${SHOAL_PORT:-16582}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

if [[ -z "${SHOAL:-}" ]]; then
    cargo build --release -q -p server
    SHOAL=${CARGO_TARGET_DIR:-target}/release/shoal-server
fi
WORK=$(mktemp -d)
SHOAL_PID=""
SUB_PIDS=()
stop_subscribers() {
    for p in "${SUB_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${SUB_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    SUB_PIDS=()
}
stop_all() {
    stop_subscribers
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
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/redis" \
        --daemonize yes --logfile "$WORK/redis.log"
    wait_port "$REDIS_PORT"
}

start_shoal() {
    rm -rf "$WORK/shoal" && mkdir -p "$WORK/shoal"
    "$SHOAL" --port "$SHOAL_PORT" --bind 127.0.0.1 --dir "$WORK/shoal" --loglevel warning --save '' &
    SHOAL_PID=$!
    wait_port "$SHOAL_PORT"
}

PAYLOAD=$(head -c "$SIZE" /dev/zero | tr '\0' x)
CHANNEL=bench
# Bytes each subscriber receives: its confirmation, then one message per PUBLISH.
CONFIRM_BYTES=$(printf '*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n' ${#CHANNEL} "$CHANNEL" | wc -c)
MESSAGE_BYTES=$(printf '*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' ${#CHANNEL} "$CHANNEL" "$SIZE" "$PAYLOAD" |
    wc -c)

numsub() {
    redis-cli -p "$1" pubsub numsub "$CHANNEL" | tail -1
}

# Starts SUBSCRIBERS readers that append everything they receive to one file each.
subscribe_all() {
    local port=$1
    rm -f "$WORK"/sub.*
    for i in $(seq "$SUBSCRIBERS"); do
        (
            exec 3<>"/dev/tcp/127.0.0.1/$port"
            printf '*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n' ${#CHANNEL} "$CHANNEL" >&3
            exec cat <&3 >"$WORK/sub.$i"
        ) &
        SUB_PIDS+=($!)
    done
    for _ in $(seq 400); do
        [[ "$(numsub "$port")" == "$SUBSCRIBERS" ]] && return 0
        sleep 0.05
    done
    echo "subscribers did not all subscribe on port $port" >&2
    return 1
}

received() {
    cat "$WORK"/sub.* | wc -c
}

# Prints "publish_rps delivered_per_s" for one server and pipeline depth.
bench_server() {
    local port=$1 P=$2
    subscribe_all "$port"
    local expect=$((SUBSCRIBERS * (CONFIRM_BYTES + N * MESSAGE_BYTES)))
    local start end rps
    start=$(date +%s.%N)
    rps=$(redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$P" -n "$N" --csv \
        PUBLISH "$CHANNEL" "$PAYLOAD" 2>/dev/null | tail -1 | tr -d '"' | cut -d, -f2)
    # Every subscriber keeps up, or the run is reported as incomplete (a cut-off subscriber, for instance).
    for _ in $(seq 1200); do
        [[ "$(received)" -ge "$expect" ]] && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    local got
    got=$(received)
    stop_subscribers
    if [[ "$got" -lt "$expect" ]]; then
        echo "$rps incomplete($got/$expect)"
    else
        awk -v n="$N" -v s="$SUBSCRIBERS" -v a="$start" -v b="$end" -v r="$rps" \
            'BEGIN { printf "%s %.0f\n", r, n * s / (b - a) }'
    fi
}

echo "fan-out: $SUBSCRIBERS subscribers, $N messages of $SIZE bytes from $CLIENTS publishers"
printf '%-4s %14s %14s %8s %16s %16s %8s\n' "-P" "shoal pub/s" "redis pub/s" "ratio" \
    "shoal deliv/s" "redis deliv/s" "ratio"
for P in $PIPELINES; do
    start_redis
    read -r redis_pub redis_deliv < <(bench_server "$REDIS_PORT" "$P")
    stop_all
    start_shoal
    read -r shoal_pub shoal_deliv < <(bench_server "$SHOAL_PORT" "$P")
    stop_all
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
    printf '%-4s %14s %14s %8s %16s %16s %8s\n' "$P" "$shoal_pub" "$redis_pub" "$(ratio "$shoal_pub" "$redis_pub")" \
        "$shoal_deliv" "$redis_deliv" "$(ratio "$shoal_deliv" "$redis_deliv")"
done

#!/usr/bin/env bash
# Runs redis-benchmark against Shoal and against redis-server on this machine with the same parameters and
# prints Shoal/Redis ops/s per test. Usage: bench/redis-benchmark.sh [requests-per-test]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-200000}
TESTS=${TESTS:-set,get,incr,mset}
PIPELINES=${PIPELINES:-"1 16"}
REDIS_PORT=${REDIS_PORT:-16379}
SHOAL_PORT=${SHOAL_PORT:-16380}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

cargo build --release -q -p server
SHOAL=target/release/shoal-server
WORK=$(mktemp -d)
cleanup() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    [[ -n "${SHOAL_PID:-}" ]] && kill "$SHOAL_PID" 2>/dev/null && wait "$SHOAL_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --daemonize yes \
    --logfile "$WORK/redis.log"
"$SHOAL" --port "$SHOAL_PORT" --bind 127.0.0.1 --dir "$WORK" --loglevel warning &
SHOAL_PID=$!
for p in "$REDIS_PORT" "$SHOAL_PORT"; do
    for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# One CSV run; prints "TEST rps" lines.
run() {
    local port=$1 pipeline=$2
    redis-cli -p "$port" flushall >/dev/null
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P "$pipeline" -d 64 -r 100000 -n "$N" -t "$TESTS" --csv 2>/dev/null |
        csv_rates
}

ratio_header
for P in $PIPELINES; do
    run "$REDIS_PORT" "$P" >"$WORK/redis.$P"
    run "$SHOAL_PORT" "$P" >"$WORK/shoal.$P"
    print_ratios "$WORK/redis.$P" "$WORK/shoal.$P" "$P"
done

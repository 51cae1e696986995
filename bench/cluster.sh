#!/usr/bin/env bash
# `redis-benchmark --cluster` against a loopback 3-node Shoal cluster (3 shards x 3 replicas, appendfsync everysec)
# and against a loopback 3-node Redis Cluster (3 masters, no replicas, AOF everysec), SET and GET at -P1 and -P16
# with 50 clients; prints Shoal/Redis ops/s per test. Every process shares this machine's cores.
# Usage: bench/cluster.sh [requests-per-test]
#   SHOAL_BIN   the shoal-server to run (default: cargo build --release, target/release/shoal-server)
#   TESTS, PIPELINES, CLIENTS   redis-benchmark's -t, the -P values, -c (set,get / "1 16" / 50)
#   KEEP_LOGS=1 keeps the work directory (the nodes' logs: elections under load show there)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-200000}
TESTS=${TESTS:-set,get}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
# Client ports; each cluster bus is the port + 10000.
SHOAL_PORTS=(7101 7102 7103)
REDIS_PORTS=(7201 7202 7203)

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

if [[ -z "${SHOAL_BIN:-}" ]]; then
    cargo build --release -q -p server
    SHOAL_BIN="${CARGO_TARGET_DIR:-target}/release/shoal-server"
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${REDIS_PORTS[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    if [[ -n "${KEEP_LOGS:-}" ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

wait_ping() {
    for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "nothing answers on port $1" >&2
    exit 1
}

wait_cluster_ok() {
    for p in "$@"; do
        for _ in $(seq 300); do
            redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
            sleep 0.1
        done
        redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || { echo "port $p: cluster not ok" >&2; exit 1; }
    done
}

addrs() { for p in "$@"; do printf '127.0.0.1:%s ' "$p"; done; }

# Shoal: three nodes, then `cluster create` (every node leads one shard and follows the other two).
for p in "${SHOAL_PORTS[@]}"; do
    mkdir -p "$WORK/shoal-$p"
    "$SHOAL_BIN" --port "$p" --bind 127.0.0.1 --dir "$WORK/shoal-$p" --cluster-enabled yes \
        --appendfsync everysec --loglevel warning --logfile "$WORK/shoal-$p.log" &
    PIDS+=($!)
done
for p in "${SHOAL_PORTS[@]}"; do wait_ping "$p"; done
# shellcheck disable=SC2046
"$SHOAL_BIN" cluster create $(addrs "${SHOAL_PORTS[@]}") --shards 3 --replicas 3 --timeout 60 >/dev/null
wait_cluster_ok "${SHOAL_PORTS[@]}"

# Redis Cluster: three masters, no replicas.
for p in "${REDIS_PORTS[@]}"; do
    mkdir -p "$WORK/redis-$p"
    redis-server --port "$p" --bind 127.0.0.1 --dir "$WORK/redis-$p" --cluster-enabled yes \
        --cluster-config-file nodes.conf --save '' --appendonly yes --appendfsync everysec --daemonize yes \
        --logfile "$WORK/redis-$p.log"
done
for p in "${REDIS_PORTS[@]}"; do wait_ping "$p"; done
# shellcheck disable=SC2046
redis-cli --cluster create $(addrs "${REDIS_PORTS[@]}") --cluster-replicas 0 --cluster-yes >/dev/null
wait_cluster_ok "${REDIS_PORTS[@]}"

# One CSV run through the cluster client of redis-benchmark (which also prints the masters it found, not CSV);
# prints "TEST rps" lines.
run() {
    local port=$1 pipeline=$2
    if ! redis-benchmark --cluster -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$pipeline" -d 64 -r 100000 -n "$N" \
        -t "$TESTS" --csv >"$WORK/out" 2>"$WORK/stderr" || grep -qiE 'error|could not|failed' "$WORK/stderr"; then
        echo "redis-benchmark --cluster -p $port -P $pipeline failed:" >&2
        tail -n 20 "$WORK/stderr" "$WORK/out" >&2
        exit 1
    fi
    csv_rates <"$WORK/out"
}

echo "uptime: $(uptime)"
ratio_header
for P in $PIPELINES; do
    run "${REDIS_PORTS[0]}" "$P" >"$WORK/redis.$P"
    run "${SHOAL_PORTS[0]}" "$P" >"$WORK/shoal.$P"
    print_ratios "$WORK/redis.$P" "$WORK/shoal.$P" "$P"
done

#!/usr/bin/env bash
# Write throughput with persistence on, side by side: Shoal single node (appendfsync always and everysec) against
# redis-server with `appendonly yes` and the same appendfsync, and a Shoal shard of 3 replicas on loopback
# against redis-server everysec. Prints Shoal/Redis ops/s per row.
# Usage: bench/persistence.sh [requests-per-test]   (env: TESTS, PIPELINES, CLIENTS, SETUPS, ROUNDS)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${1:-200000}
TESTS=${TESTS:-set,incr}
PIPELINES=${PIPELINES:-"1 16"}
CLIENTS=${CLIENTS:-50}
REDIS_PORT=${REDIS_PORT:-16479}
BASE=${SHOAL_BASE_PORT:-16480}

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

cargo build --release -q -p server
SHOAL=target/release/shoal-server
WORK=$(mktemp -d)
PIDS=()
stop_all() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

wait_port() {
    for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "port $1 did not answer" >&2
    return 1
}

start_redis() {
    rm -rf "$WORK/redis" && mkdir -p "$WORK/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync "$1" \
        --dir "$WORK/redis" --daemonize yes --logfile "$WORK/redis.log"
    wait_port "$REDIS_PORT"
}

# Starts N Shoal processes as one shard (N=1: a single node) with appendfsync $2; sets LEADER_PORT.
start_shoal() {
    local n=$1 fsync=$2 replicas="" i
    for i in $(seq 1 "$n"); do replicas+="$i@127.0.0.1:$((BASE + i)) "; done
    for i in $(seq 1 "$n"); do
        rm -rf "$WORK/shoal$i" && mkdir -p "$WORK/shoal$i"
        local extra=()
        [[ $n -gt 1 ]] && extra=(--node-id "$i" --shard-replicas "$replicas")
        "$SHOAL" --port $((BASE + i)) --bind 127.0.0.1 --dir "$WORK/shoal$i" --loglevel warning --save '' \
            --appendfsync "$fsync" "${extra[@]}" &
        PIDS+=($!)
    done
    for i in $(seq 1 "$n"); do wait_port $((BASE + i)); done
    LEADER_PORT=""
    for _ in $(seq 200); do
        for i in $(seq 1 "$n"); do
            if [[ "$(redis-cli -p $((BASE + i)) role 2>/dev/null | head -1)" == master ]]; then
                LEADER_PORT=$((BASE + i))
                return 0
            fi
        done
        sleep 0.05
    done
    echo "no leader" >&2
    return 1
}

# One CSV run; prints "TEST rps" lines.
run() {
    local port=$1 pipeline=$2
    redis-cli -p "$port" flushall >/dev/null
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -P "$pipeline" -d 64 -r 100000 -n "$N" -t "$TESTS" \
        --csv 2>/dev/null | csv_rates
}

# ROUNDS > 1: each row runs that many (Redis, Shoal) pairs back to back and prints the median of each, the ratio
# of the pair medians and the range of the per-pair ratios: on a shared VM one run's ratio moves by +-20%.
ROUNDS=${ROUNDS:-1}
printf "%-34s %-5s %-3s %12s %12s %7s %s\n" setup test -P "redis ops/s" "shoal ops/s" ratio "(pair ratios)"
# SETUPS: ';'-separated "replicas shoal-fsync redis-fsync" rows.
IFS=';' read -ra setups <<<"${SETUPS:-1 always always;1 everysec everysec;3 everysec everysec}"
for setup in "${setups[@]}"; do
    read -r replicas sfsync rfsync <<<"$setup"
    label="shoal x$replicas $sfsync / redis $rfsync"
    for P in $PIPELINES; do
        : >"$WORK/pairs"
        for _ in $(seq "$ROUNDS"); do
            start_redis "$rfsync"
            run "$REDIS_PORT" "$P" >"$WORK/redis.out"
            stop_all
            start_shoal "$replicas" "$sfsync"
            run "$LEADER_PORT" "$P" >"$WORK/shoal.out"
            stop_all
            join <(sort "$WORK/redis.out") <(sort "$WORK/shoal.out") >>"$WORK/pairs"
        done
        for t in $(awk '{print $1}' "$WORK/pairs" | sort -u); do
            awk -v t="$t" '$1 == t' "$WORK/pairs" | awk -v l="$label" -v t="$t" -v p="$P" '
                function median(a, n,   i, j, x) {
                    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
                }
                { n++; r[n] = $2; s[n] = $3; q[n] = $3 / $2 }
                END {
                    rm = median(r, n); sm = median(s, n); lo = hi = q[1]
                    for (i = 2; i <= n; i++) { if (q[i] < lo) lo = q[i]; if (q[i] > hi) hi = q[i] }
                    range = n > 1 ? sprintf("(%.2f-%.2f, %d pairs)", lo, hi, n) : ""
                    printf "%-34s %-5s %-3s %12.0f %12.0f %7.2f %s\n", l, t, p, rm, sm, sm / rm, range
                }'
        done
    done
done

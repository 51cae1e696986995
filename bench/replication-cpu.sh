#!/usr/bin/env bash
# CPU time each process of a 3-replica shard on loopback spends per 100,000 writes (utime + stime from
# /proc/<pid>/stat around one redis-benchmark run), which is what decides throughput when the three processes and
# the client share two cores, and which holds still while other work loads the machine (wall-clock ops/s do not).
# Prints one line per run: leader, each follower, their sum, and redis-benchmark itself, in CPU-seconds per 100k
# writes, plus the ops/s the run reached. With REDIS=1 also measures redis-server (appendonly yes, everysec) the
# same way.
# Usage: bench/replication-cpu.sh [requests] [runs]   (env: PIPELINES="1 16", SHOAL_BIN, CALLGRIND=leader|follower)
# CALLGRIND=leader (or follower) runs that node under callgrind with a 2 s node timeout instead (one run per
# pipeline depth) and prints the instructions it spent per write; the callgrind file is kept in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100000}
RUNS=${2:-3}
PIPELINES=${PIPELINES:-"1 16"}
BASE=${SHOAL_BASE_PORT:-16680}
REDIS_PORT=${REDIS_PORT:-16679}
BIN=${SHOAL_BIN:-${CARGO_TARGET_DIR:-target}/release/shoal-server}
CALLGRIND=${CALLGRIND:-}
OUT=${OUT:-/tmp/replication-cpu}
if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then
    echo "installing redis-server and redis-tools (Debian packages)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi
[[ -x "$BIN" ]] || cargo build --release -q -p server
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
TICK=$(getconf CLK_TCK)
stop_all() {
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_all; rm -rf "$WORK"' EXIT

# utime + stime of a process (all its threads), in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_port() {
    for _ in $(seq 600); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "port $1 did not answer" >&2
    return 1
}

# Starts the shard; node $1 (if given) under callgrind. Sets LEADER (index) and NODE_PID[i].
start_shard() {
    local under=${1:-} replicas="" i timeout=100
    [[ -n "$under" ]] && timeout=2000
    for i in 1 2 3; do replicas+="$i@127.0.0.1:$((BASE + i)) "; done
    for i in 1 2 3; do
        rm -rf "$WORK/shoal$i" && mkdir -p "$WORK/shoal$i"
        local cmd=("$BIN" --port $((BASE + i)) --bind 127.0.0.1 --dir "$WORK/shoal$i" --loglevel warning
            --save '' --appendonly yes --appendfsync everysec --node-id "$i" --shard-replicas "$replicas"
            --cluster-node-timeout "$timeout")
        if [[ "$under" == "$i" ]]; then
            valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "${cmd[@]}" >"$WORK/vg.log" 2>&1 &
        else
            "${cmd[@]}" &
        fi
        NODE_PID[i]=$!
        PIDS+=($!)
    done
    for i in 1 2 3; do wait_port $((BASE + i)); done
    LEADER=""
    for _ in $(seq 600); do
        for i in 1 2 3; do
            if [[ "$(redis-cli -p $((BASE + i)) role 2>/dev/null | head -1)" == master ]]; then
                LEADER=$i
                return 0
            fi
        done
        sleep 0.1
    done
    echo "no leader" >&2
    return 1
}

# One redis-benchmark run against port $1 with pipeline $2; prints ops/s and the client's CPU ticks.
bench() {
    local port=$1 p=$2
    redis-cli -p "$port" set warmup 1 >/dev/null
    /usr/bin/time -f "%U %S" -o "$WORK/time" redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P "$p" -d 64 \
        -r 100000 -n "$N" -t set --csv 2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{print $2}' >"$WORK/rps"
    echo "$(cat "$WORK/rps") $(awk -v t="$TICK" '{print ($1 + $2) * t}' "$WORK/time")"
}

per100k() { awk -v t="$1" -v n="$N" -v k="$TICK" 'BEGIN { printf "%6.2f", t / k * 100000 / n }'; }

date -u
uptime
if [[ -n "$CALLGRIND" ]]; then
    for P in $PIPELINES; do
        # Node 1 creates the group and leads it unless it is too slow to win the first election.
        under=1
        [[ "$CALLGRIND" == follower ]] && under=3
        start_shard "$under"
        if [[ ("$CALLGRIND" == leader && "$LEADER" != 1) || ("$CALLGRIND" == follower && "$LEADER" == 3) ]]; then
            echo "node $under is not the $CALLGRIND (leader: $LEADER)" >&2
            exit 1
        fi
        callgrind_control -z "${NODE_PID[under]}" >/dev/null 2>&1
        read -r rps _ < <(bench $((BASE + LEADER)) "$P")
        rm -f "$WORK"/cg.out.*
        callgrind_control -d "${NODE_PID[under]}" >/dev/null 2>&1
        f=$(ls "$WORK"/cg.out.* | head -1)
        total=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
        cp "$f" "$OUT/cg.$CALLGRIND.P$P"
        printf '%s -P%-2s %8d instructions/write (%s ops/s under callgrind) -> %s\n' "$CALLGRIND" "$P" \
            $((total / N)) "$rps" "$OUT/cg.$CALLGRIND.P$P"
        stop_all
    done
    exit 0
fi

printf '%-6s %-4s %8s %8s %8s %8s %8s %10s\n' what -P leader foll-a foll-b shard client ops/s
for run in $(seq "$RUNS"); do
    for P in $PIPELINES; do
        start_shard
        before=()
        for i in 1 2 3; do before[i]=$(cpu "${NODE_PID[i]}"); done
        read -r rps client < <(bench $((BASE + LEADER)) "$P")
        used=()
        for i in 1 2 3; do used[i]=$(($(cpu "${NODE_PID[i]}") - before[i])); done
        fol=()
        for i in 1 2 3; do [[ $i != "$LEADER" ]] && fol+=("${used[i]}"); done
        printf '%-6s %-4s %8s %8s %8s %8s %8s %10s\n' shoal "$P" "$(per100k "${used[LEADER]}")" \
            "$(per100k "${fol[0]}")" "$(per100k "${fol[1]}")" \
            "$(per100k $((used[1] + used[2] + used[3])))" "$(per100k "$client")" "$rps"
        stop_all
        if [[ -n "${REDIS:-}" ]]; then
            rm -rf "$WORK/redis" && mkdir -p "$WORK/redis"
            redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
                --dir "$WORK/redis" --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
            wait_port "$REDIS_PORT"
            rpid=$(cat "$WORK/redis.pid")
            b=$(cpu "$rpid")
            read -r rps client < <(bench "$REDIS_PORT" "$P")
            u=$(($(cpu "$rpid") - b))
            printf '%-6s %-4s %8s %8s %8s %8s %8s %10s\n' redis "$P" "$(per100k "$u")" - - "$(per100k "$u")" \
                "$(per100k "$client")" "$rps"
            stop_all
        fi
    done
done

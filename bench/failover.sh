#!/usr/bin/env bash
# Failover time of a 3-replica shard: kill -9 of the leader under 4 concurrent writers, KILLS times (default 20),
# release build; prints the distribution (ms from the kill to the first write a surviving node accepts) and checks
# that no acknowledged write was lost. It is the test `leader_kill9_under_load_...` built with optimizations.
# Usage: bench/failover.sh [kills]
set -euo pipefail
cd "$(dirname "$0")/.."
SHOAL_FAILOVER_KILLS=${1:-20} cargo test --release -q -p server --test replication -- \
    leader_kill9_under_load --nocapture 2>&1 | grep -E "failover over|test result|panicked"

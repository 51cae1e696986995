#!/usr/bin/env bash
# End-to-end test of deploy/docker-compose.yml: builds the image (reusing the cached static build), brings the
# 3-node cluster up under a throw-away project name and free host ports, writes to every slot through a cluster
# client, kills the container leading a shard with `docker kill`, checks that no acknowledged write is lost, stops
# and `up`s the project again (the one-shot create must change nothing), then `down -v`. Prints the failover time.
# Needs a Docker engine on Linux (host networking); installs docker-compose if neither `docker compose` nor
# `docker-compose` exists. The test itself is crates/server/tests/compose.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
    else
        echo "test-compose.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
        exit 1
    fi
fi

export SHOAL_IMAGE="${SHOAL_IMAGE:-shoal:local}"
deploy/build-image.sh "$SHOAL_IMAGE"
cargo test -q -p server --test compose -- --ignored --nocapture
echo "test-compose.sh: passed in $(($(date +%s) - start)) s"

#!/usr/bin/env bash
# End-to-end test of deploy/docker-compose.yml: builds the image, brings the three nodes up under a throw-away
# project name and free host ports, kills the leader with `docker kill`, crashes the next leader (SIGKILL, which
# the restart policy answers), checks that no acknowledged write is lost, restarts everything from the volumes,
# then `down -v`. Prints the measured failover times. Needs a Docker engine; installs docker-compose if neither
# `docker compose` nor `docker-compose` exists. The test itself is crates/server/tests/compose.rs.
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

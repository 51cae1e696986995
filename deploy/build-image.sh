#!/usr/bin/env bash
# Builds the image shoal:local with no registry: a static shoal-server compiled on the host (glibc's static libc,
# the host's own target, so no rustup target to add), copied onto `FROM scratch`. Idempotent: cargo and docker
# rebuild only what changed. Usage: deploy/build-image.sh [image-tag]   (default shoal:local)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-shoal:local}"

if ! command -v docker >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    else
        echo "build-image.sh: docker is not installed" >&2
        exit 1
    fi
fi

# `--target` is required for a static build: without it RUSTFLAGS would also apply to proc-macro crates, which
# cannot be linked statically.
target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "$target" -p server --bin shoal-server
bin="$CARGO_TARGET_DIR/$target/release/shoal-server"
if ! file "$bin" 2>/dev/null | grep -q 'static' && ldd "$bin" >/dev/null 2>&1; then
    echo "build-image.sh: $bin is not statically linked" >&2
    exit 1
fi

stage=deploy/.build
mkdir -p "$stage/data"
# Debug info stays in the host build (for profiling); the image gets the stripped binary.
if command -v strip >/dev/null; then
    strip -o "$stage/shoal-server.new" "$bin"
else
    cp "$bin" "$stage/shoal-server.new"
fi
mv "$stage/shoal-server.new" "$stage/shoal-server"

# The classic builder when buildx is absent (BuildKit needs the buildx plugin with recent clients).
if docker buildx version >/dev/null 2>&1; then
    docker build -q -t "$tag" -f deploy/Dockerfile deploy
else
    DOCKER_BUILDKIT=0 docker build -q -t "$tag" -f deploy/Dockerfile deploy
fi
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes)"

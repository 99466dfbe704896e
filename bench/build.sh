#!/usr/bin/env bash
# bench/build.sh — how long `docker build` of a small multi-step Dockerfile
# takes on pier and on the reference dockerd (Debian's docker.io on a
# private socket) in the same run, alternating.
#
# Starts its own test registry, pierd and dockerd (temporary data roots and
# sockets); needs `make build testdata compose` first (the buildx plugin
# drives both daemons' BuildKit). Cases, each a median of RUNS:
#   first     the first build after pierd started (pier boots its builder VM;
#             once, not a median)
#   nocache   docker buildx build --no-cache (every step runs)
#   cached    the same build again, unchanged context (every step cached)
#   classic   DOCKER_BUILDKIT=0 docker build --no-cache (dockerd: its
#             classic builder; pier: the same BuildKit behind POST /build)
# Prints one line per case:
#   case=<name> pier_median_s=… ref_median_s=… ratio=… runs=N
# Usage: bench/build.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
. bench/lib.sh
bench_start 127.0.0.1:5078
export DOCKER_HOST=unix://$sock
mkdir -p "$DOCKER_CONFIG"
printf '{"cliPluginsExtraDirs":["%s"]}\n' "$PWD/bin/cli-plugins" >"$DOCKER_CONFIG/config.json"
bench_wait_for_daemon
bench_reference_start
pier=unix://$sock
ref=unix://$ref_sock

image=$reg/pier-test/busybox:latest
ctx=$work/ctx
mkdir -p "$ctx"
for i in 1 2 3; do head -c 100000 /dev/urandom >"$ctx/file$i"; done
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $image
ARG GREETING=hello
ENV G=\$GREETING
WORKDIR /app
COPY file1 file2 ./
RUN echo "\$G" > greeting && cat file1 file2 > both
COPY file3 ./
RUN ls -l /app > listing && mkdir -p /data && cp both /data/
CMD ["cat", "/app/greeting"]
DOCKERFILE
for h in "$pier" "$ref"; do
	DOCKER_HOST=$h docker pull -q "$image" >/dev/null
done
echo "date=$(date -u +%F) runs=$runs"

first=$(DOCKER_HOST=$pier bench_time docker buildx build -q -t bench:1 "$ctx")
firstref=$(DOCKER_HOST=$ref bench_time docker buildx build -q -t bench:1 "$ctx")
awk -v p="$first" -v r="$firstref" 'BEGIN { printf "case=first pier_s=%.2f ref_s=%.2f ratio=%.1f (pier boots its builder VM)\n", p, r, p / r }'

measure_case() { # name, docker args...
	local name=$1
	shift
	local p=() r=()
	for _ in $(seq "$runs"); do
		p+=("$(DOCKER_HOST=$pier bench_time "$@")")
		r+=("$(DOCKER_HOST=$ref bench_time "$@")")
	done
	bench_case_line "$name" "$runs" "$(printf '%s\n' "${p[@]}")" "$(printf '%s\n' "${r[@]}")"
}

measure_case nocache docker buildx build -q --no-cache -t bench:1 "$ctx"
measure_case cached docker buildx build -q -t bench:1 "$ctx"
# (the CLI's deprecation notice for the classic builder goes to stderr)
measure_case classic bash -c 'DOCKER_BUILDKIT=0 docker build -q --no-cache -t bench:classic "$1" 2>/dev/null' _ "$ctx"
for h in "$pier" "$ref"; do
	[ "$(DOCKER_HOST=$h docker run --rm bench:1)" = hello ] || { echo "the image built on $h does not run as built" >&2; exit 1; }
done

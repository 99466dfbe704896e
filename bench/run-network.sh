#!/usr/bin/env bash
# bench/run-network.sh — network throughput on pier: host -> container over a
# published port, and container -> container on a user network, each an
# HTTP download of a 64 MiB file served by busybox httpd.
#
# Starts its own test registry and pierd (temporary data root and socket),
# so it needs `make build testdata` first. With DOCKER_HOST_REFERENCE set
# (say unix:///run/docker.sock of a dockerd started by hand) it measures
# that daemon the same way, for comparison. Prints one line per target:
#   target=<pier|reference> accel=… host_to_container_MBps=… container_to_container_MBps=…
# Usage: bench/run-network.sh [RUNS]   (default 3; the median is reported)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-3}
cleanup() {
	for h in "unix://$sock" ${DOCKER_HOST_REFERENCE:-}; do
		DOCKER_HOST=$h docker rm -f pier-nb-web pier-nb-client >/dev/null 2>&1 || true
		DOCKER_HOST=$h docker network rm pier-nb >/dev/null 2>&1 || true
	done
}
. bench/lib.sh
bench_start 127.0.0.1:5078 cleanup
image=$reg/pier-test/busybox:latest

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure() { # target docker-host
	local target=$1
	export DOCKER_HOST=$2
	bench_wait_for_daemon
	if [ "$target" = reference ]; then
		DOCKER_HOST=unix://$sock docker save "$image" | docker load -q >/dev/null
	else
		docker pull -q "$image" >/dev/null
	fi
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	docker network create pier-nb >/dev/null
	docker run -d --name pier-nb-web --network pier-nb -p "127.0.0.1:$port:80" "$image" \
		sh -c 'mkdir /www && dd if=/dev/zero of=/www/big bs=1M count=64 2>/dev/null && exec httpd -f -p 80 -h /www' >/dev/null
	for _ in $(seq 300); do curl -sf -o /dev/null "http://127.0.0.1:$port/big" && break; sleep 0.5; done
	local h2c=()
	for _ in $(seq "$runs"); do
		h2c+=("$(curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$port/big" | awk '{ printf "%.1f", $1 / 1048576 }')")
	done
	local c2c
	c2c=$(docker run --rm --name pier-nb-client --network pier-nb "$image" sh -c "
		for i in \$(seq $runs); do
			a=\$(cut -d' ' -f1 /proc/uptime); wget -qO /dev/null http://pier-nb-web/big; b=\$(cut -d' ' -f1 /proc/uptime)
			awk -v a=\$a -v b=\$b 'BEGIN { printf \"%.1f\\n\", 64 / (b - a) }'
		done" | median)
	local accel
	accel=$(docker info --format '{{range .Labels}}{{println .}}{{end}}' | sed -n 's/^pier.accel=//p')
	echo "target=$target accel=${accel:-native} runs=$runs host_to_container_MBps=$(printf '%s\n' "${h2c[@]}" | median) container_to_container_MBps=$c2c"
	docker rm -f pier-nb-web >/dev/null
	docker network rm pier-nb >/dev/null
}

measure pier "unix://$sock"
if [ -n "${DOCKER_HOST_REFERENCE:-}" ]; then
	measure reference "$DOCKER_HOST_REFERENCE"
fi

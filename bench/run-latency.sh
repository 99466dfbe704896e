#!/usr/bin/env bash
# bench/run-latency.sh — how long `docker run --rm busybox true` takes on pier,
# and how much host memory one idle container costs.
#
# Starts its own test registry and pierd (temporary data root and socket),
# so it needs `make build testdata` first. Prints:
#   accel=<kvm|tcg> runs=N median_s=… min_s=… max_s=…
#   idle_container_pss_kib=…
# Usage: bench/run-latency.sh [RUNS] [PLATFORM]   (defaults: 10, host platform)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
platform=${2:-}
cleanup() { docker rm -f pier-bench-idle >/dev/null 2>&1 || true; }
. bench/lib.sh
bench_start 127.0.0.1:5077 cleanup
export DOCKER_HOST=unix://$sock
bench_wait_for_daemon

image=$reg/pier-test/busybox:latest
plat_args=()
[ -n "$platform" ] && plat_args=(--platform "$platform")
pull_args=("${plat_args[@]}")
run_args=(--rm "${plat_args[@]}")
docker pull -q "${pull_args[@]}" "$image" >/dev/null
docker run "${run_args[@]}" "$image" true # warm the root disk cache

times=()
for _ in $(seq "$runs"); do
	start=$(date +%s.%N)
	docker run "${run_args[@]}" "$image" true
	end=$(date +%s.%N)
	times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')")
done
accel=$(docker info --format '{{range .Labels}}{{println .}}{{end}}' | sed -n 's/^pier.accel=//p')
printf '%s\n' "${times[@]}" | sort -n | awk -v runs="$runs" -v accel="${accel:-unknown}" -v plat="${platform:-host}" '
	{ t[NR] = $1 }
	END {
		m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
		printf "accel=%s platform=%s runs=%d median_s=%.2f min_s=%.2f max_s=%.2f\n", accel, plat, runs, m, t[1], t[NR]
	}'

docker run -d --name pier-bench-idle "${plat_args[@]}" "$image" sleep 600 >/dev/null
sleep 5
vmpid=$(docker inspect --format '{{.State.Pid}}' pier-bench-idle)
pss=0
for p in $vmpid $(pgrep -P "$vmpid" || true); do
	v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
	pss=$((pss + v))
done
echo "idle_container_pss_kib=$pss (host pid $vmpid)"

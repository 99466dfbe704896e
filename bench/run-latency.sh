#!/usr/bin/env bash
# bench/run-latency.sh — how long `docker run --rm busybox true` takes on pier
# and on the reference dockerd (Debian's docker.io on a private socket) in the
# same run, alternating, and what one idle container costs in host memory.
#
# Starts its own test registry, pierd and dockerd (temporary data roots and
# sockets); needs `make build testdata` first. Cases: plain, a bind mount
# (-v DIR:/d), a named volume, the other architecture (emulated: qemu-user
# on both), 8 runs started at once. Prints one line per case:
#   case=<name> pier_median_s=… ref_median_s=… ratio=… (runs=N)
# then idle memory (PSS, KiB, every host process serving the container: its
# QEMU and virtiofsd, and its network's helper).
# Usage: bench/run-latency.sh [RUNS]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-7}
cleanup() { bench_remove_containers "$sock" "${ref_sock:-}"; }
. bench/lib.sh
bench_start 127.0.0.1:5077 cleanup
export DOCKER_HOST=unix://$sock
bench_wait_for_daemon
bench_reference_start
pier=unix://$sock
ref=unix://$ref_sock

image=$reg/pier-test/busybox:latest
other=linux/arm64
[ "$(uname -m)" = aarch64 ] && other=linux/amd64
mkdir -p "$work/bind"
other_image=pier-bench/busybox:other
for h in "$pier" "$ref"; do
	# The other architecture under a tag of its own: a pull by platform
	# moves the tag on dockerd.
	DOCKER_HOST=$h docker pull -q --platform "$other" "$image" >/dev/null
	DOCKER_HOST=$h docker tag "$image" "$other_image"
	DOCKER_HOST=$h docker pull -q --platform "linux/$(go env GOARCH)" "$image" >/dev/null
	DOCKER_HOST=$h docker volume create benchvol >/dev/null
	# Warm both: root disks, templates (pier makes one per shape: plain,
	# with shares, emulated), page cache.
	DOCKER_HOST=$h docker run --rm "$image" true
	DOCKER_HOST=$h docker run --rm -v "$work/bind:/d" "$image" true
	DOCKER_HOST=$h docker run --rm "$other_image" true >/dev/null 2>&1 || true
done
accel=$(docker info --format '{{range .Labels}}{{println .}}{{end}}' | sed -n 's/^pier.accel=//p')
start_mode=$(docker info --format '{{range .Labels}}{{println .}}{{end}}' | sed -n 's/^pier.vm-start=//p')
echo "date=$(date -u +%F) accel=$accel vm-start=$start_mode runs=$runs"

measure_case() { # name, docker run args...
	local name=$1
	shift
	local p=() r=()
	for _ in $(seq "$runs"); do
		p+=("$(DOCKER_HOST=$pier bench_time docker run --rm "$@")")
		# The reference cannot run the other architecture without the
		# host's binfmt_misc registration (pier needs none): then its
		# native run stands in, and the line says so.
		if [ "$name" = emulated ] && ! $ref_emulates; then
			r+=("$(DOCKER_HOST=$ref bench_time docker run --rm "$image" true)")
		else
			r+=("$(DOCKER_HOST=$ref bench_time docker run --rm "$@")")
		fi
	done
	bench_case_line "$name" "$runs" "$(printf '%s\n' "${p[@]}")" "$(printf '%s\n' "${r[@]}")"
}

measure_case plain "$image" true
measure_case bind -v "$work/bind:/d" "$image" true
measure_case volume -v benchvol:/d "$image" true
ref_emulates=false
DOCKER_HOST=$ref docker run --rm "$other_image" true >/dev/null 2>&1 && ref_emulates=true
$ref_emulates || echo "note: the reference cannot run $other images here (no binfmt_misc): case=emulated compares with its native run"
measure_case emulated "$other_image" true

# 8 at once: every run must succeed; wall time of the batch.
burst() {
	local pids=() fails=0
	for i in $(seq 8); do
		docker run --rm "$image" true >/dev/null 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
	echo "$fails"
}
for target in pier ref; do
	h=$pier
	[ "$target" = ref ] && h=$ref
	start=$(date +%s.%N)
	fails=$(DOCKER_HOST=$h burst)
	end=$(date +%s.%N)
	awk -v t="$target" -v a="$start" -v b="$end" -v f="$fails" 'BEGIN { printf "case=burst8 target=%s wall_s=%.2f failed=%d\n", t, b - a, f }'
done

# Idle memory: one container, then 20 at once on pier.
DOCKER_HOST=$pier docker run -d --name idle "$image" sleep 600 >/dev/null
DOCKER_HOST=$ref docker run -d --name idle "$image" sleep 600 >/dev/null
sleep 5
ppid=$(DOCKER_HOST=$pier docker inspect --format '{{.State.Pid}}' idle)
rpid=$(DOCKER_HOST=$ref docker inspect --format '{{.State.Pid}}' idle)
rshim=$(ps -o ppid= -p "$rpid" | tr -d ' ')
# The default network's helper (pier-net-helper) serves the container
# too: its switch, NAT and DNS.
helper=$(pgrep -f "net-helper --dir $work/data/networks" | tr '\n' ' ')
echo "idle_pss_kib pier=$(bench_pss "$ppid" $helper) ref=$(bench_pss "$rpid" "$rshim") (pier: QEMU and the network helper; ref: the process and its containerd shim)"
echo "idle_pss_kib network_helper=$(bench_pss $helper)"
ids=()
for i in $(seq 19); do ids+=("$(DOCKER_HOST=$pier docker run -d "$image" sleep 600)"); done
sleep 5
pids=("$ppid" $helper)
for id in "${ids[@]}"; do pids+=("$(DOCKER_HOST=$pier docker inspect --format '{{.State.Pid}}' "$id")"); done
echo "idle20_pss_kib pier=$(bench_pss "${pids[@]}") (20 idle containers, all their host processes)"

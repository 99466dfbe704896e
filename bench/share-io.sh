#!/usr/bin/env bash
# bench/share-io.sh — what file work in a bind mount costs: pier with its
# shares over 9p (the default: such containers start as clones), pier with
# --vm-shares virtiofs (cold boots), and the reference dockerd (Debian's
# docker.io on a private socket), in the same run, alternating.
#
# One container per round and target runs the same script in a fresh bind
# mount and times, inside the container: writing 64 MiB, creating 500
# small files, reading them, listing them with their attributes (ls -lR),
# reading the 64 MiB back, removing everything. Prints one line per target
# with the median seconds of each step. Needs `make build testdata`.
# Usage: bench/share-io.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
cleanup() { bench_remove_containers "$sock" "${vfs_sock:-}" "${ref_sock:-}"; }
. bench/lib.sh
bench_start 127.0.0.1:5078 cleanup
export DOCKER_HOST=unix://$sock
bench_wait_for_daemon
vfs_sock=$work/virtiofs.sock
bin/pierd -H "unix://$vfs_sock" --data-root "$work/data-virtiofs" --live-restore=false --vm-shares virtiofs >"$work/pierd-virtiofs.log" 2>&1 &
bench_pids+=($!)
DOCKER_HOST=unix://$vfs_sock bench_wait_for_daemon
bench_reference_start

image=$reg/pier-test/busybox:latest
cat >"$work/io.sh" <<'EOF'
t() { awk '{ print $1 }' /proc/uptime; }
cd /d
a=$(t); dd if=/dev/zero of=big bs=1M count=64 2>/dev/null; sync
b=$(t); mkdir many; i=0; while [ $i -lt 500 ]; do echo $i >many/f$i; i=$((i + 1)); done
c=$(t); cat many/* >/dev/null
d=$(t); ls -lR many >/dev/null
e=$(t); cat big >/dev/null
f=$(t); rm -rf many big
g=$(t)
awk -v a=$a -v b=$b -v c=$c -v d=$d -v e=$e -v f=$f -v g=$g 'BEGIN { print b - a, c - b, d - c, e - d, f - e, g - f }'
EOF
targets=(9p virtiofs ref)
declare -A host=([9p]=unix://$sock [virtiofs]=unix://$vfs_sock [ref]=unix://$ref_sock)
declare -A results=()
for t in "${targets[@]}"; do
	DOCKER_HOST=${host[$t]} docker pull -q "$image" >/dev/null
	# Warm: the template of the share shape, page cache.
	DOCKER_HOST=${host[$t]} docker run --rm -v "$work:/w" "$image" true
done
for _ in $(seq "$rounds"); do
	for t in "${targets[@]}"; do
		dir=$(mktemp -d "$work/share-XXXXXX")
		results[$t]+="$(DOCKER_HOST=${host[$t]} docker run --rm -v "$dir:/d" -v "$work/io.sh:/io.sh:ro" "$image" sh /io.sh)"$'\n'
		rm -rf "$dir"
	done
done
echo "date=$(date -u +%F) rounds=$rounds (seconds inside the container, medians)"
for t in "${targets[@]}"; do
	line="target=$t"
	for col in 1 2 3 4 5 6; do
		name=$(echo "write64M create500 read500 stat500 read64M remove" | cut -d' ' -f"$col")
		line+=" $name=$(printf '%s' "${results[$t]}" | awk -v c="$col" 'NF { print $c }' | bench_median)"
	done
	echo "$line"
done

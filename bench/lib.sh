# bench/lib.sh — sourced by the bench scripts: a test registry and a pierd
# of their own, in a temporary directory that goes on exit.
#
#   bench_start REGISTRY_ADDR [CLEANUP_FUNCTION]
# sets work, sock and reg, starts pier-testregistry on REGISTRY_ADDR and
# bin/pierd on $sock (data root under $work), exports DOCKER_CONFIG, and on
# exit runs CLEANUP_FUNCTION (if given), stops both and removes $work.

bench_pids=()

bench_start() {
	reg=$1
	bench_cleanup_hook=${2:-}
	work=$(mktemp -d /tmp/pier-bench.XXXXXX)
	sock=$work/docker.sock
	trap bench_stop EXIT
	go build -o "$work/pier-testregistry" ./internal/cmd/pier-testregistry
	"$work/pier-testregistry" -addr "$reg" >"$work/registry.log" 2>&1 &
	bench_pids+=($!)
	# --live-restore=false: the benchmark's VMs and network helpers end with it.
	bin/pierd -H "unix://$sock" --data-root "$work/data" --live-restore=false >"$work/pierd.log" 2>&1 &
	bench_pids+=($!)
	export DOCKER_CONFIG=$work/docker-config
}

bench_stop() {
	[ -n "$bench_cleanup_hook" ] && "$bench_cleanup_hook"
	for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}

# bench_wait_for_daemon waits until $DOCKER_HOST answers.
bench_wait_for_daemon() {
	for _ in $(seq 100); do docker version >/dev/null 2>&1 && return; sleep 0.2; done
}

# bench_reference_start starts the reference dockerd (Debian's docker.io,
# installed by apt when missing) on $work/ref.sock with its own data and
# exec roots, a bridge of its own (10.213.0.1/24, clear of pier's
# 172.17.0.1) and no iptables rules; sets ref_sock.
bench_reference_start() {
	if ! command -v dockerd >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >"$work/apt.log" 2>&1
	fi
	ref_sock=$work/ref.sock
	dockerd -H "unix://$ref_sock" --data-root "$work/ref-data" --exec-root "$work/ref-exec" \
		--pidfile "$work/ref.pid" --bip 10.213.0.1/24 --iptables=false --ip6tables=false \
		--storage-driver overlay2 >"$work/dockerd.log" 2>&1 &
	bench_pids+=($!)
	for _ in $(seq 150); do DOCKER_HOST=unix://$ref_sock docker version >/dev/null 2>&1 && return; sleep 0.2; done
	echo "reference dockerd did not start: $(tail -5 "$work/dockerd.log")" >&2
	return 1
}

# bench_remove_containers SOCKET... removes every container of the daemons
# on those unix sockets (missing ones are skipped).
bench_remove_containers() {
	local s
	for s in "$@"; do
		[ -S "$s" ] || continue
		DOCKER_HOST=unix://$s docker rm -f $(DOCKER_HOST=unix://$s docker ps -aq 2>/dev/null) >/dev/null 2>&1 || true
	done
}

# bench_median reads numbers, one per line, and prints their median.
bench_median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# bench_case_line NAME RUNS PIER_TIMES REF_TIMES prints a case's line from
# the two targets' times (newline-separated seconds):
#   case=NAME pier_median_s=… ref_median_s=… ratio=… runs=RUNS
bench_case_line() {
	local pm rm
	pm=$(printf '%s\n' "$3" | bench_median)
	rm=$(printf '%s\n' "$4" | bench_median)
	awk -v n="$1" -v p="$pm" -v r="$rm" -v k="$2" 'BEGIN { printf "case=%s pier_median_s=%.2f ref_median_s=%.2f ratio=%.1f runs=%d\n", n, p, r, p / r, k }'
}

# bench_time CMD... prints how long CMD took, in seconds (its output is dropped).
bench_time() {
	local start end
	start=$(date +%s.%N)
	"$@" >/dev/null
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

# bench_pss PID... prints the summed PSS (KiB) of the PIDs and their children.
bench_pss() {
	local total=0 p v
	for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

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
	bin/pierd -H "unix://$sock" --data-root "$work/data" >"$work/pierd.log" 2>&1 &
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

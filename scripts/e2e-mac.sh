#!/usr/bin/env bash
# e2e-mac.sh — the whole vz path on an Apple-silicon Mac, one line per
# step (`make e2e-mac`). It builds and signs bin/pierd, starts it on a
# private socket and data root, pulls busybox by platform, runs it native
# (aarch64) and as linux/amd64 under Rosetta (x86_64), serves a published
# port, reads and writes a bind mount, stops and removes a container, and
# stops pierd, checking that no VM shim is left. Paste its output (and,
# on a failure, the log it names) into a report: docs/macos.md.
#
# Needs: the Xcode command line tools, Go, the docker CLI, Rosetta for
# Linux (softwareupdate --install-rosetta --agree-to-license) and the
# arm64 guest assets in bin/guest/arm64 (docs/macos.md says how).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORK=$(mktemp -d /tmp/pier-e2e.XXXXXX) # short: macOS socket paths hold 104 bytes
SOCK=$WORK/docker.sock
LOG=$WORK/pierd.log
IMAGE=${PIER_E2E_IMAGE:-busybox:latest}
PIERD_PID=
FAILED=0

line() { printf '%-4s %-22s %s\n' "$1" "$2" "$3"; }
ok() { line ok "$1" "$2"; }
fail() {
	line FAIL "$1" "$2"
	FAILED=1
}
# must STEP: stop here after a failed step whose result the next ones need.
must() {
	[[ $FAILED == 0 ]] && return 0
	line "" "" "stopping after $1; pierd's log: $LOG"
	exit 1
}
d() { docker -H "unix://$SOCK" "$@"; }

cleanup() {
	if [[ -n "$PIERD_PID" ]] && kill -0 "$PIERD_PID" 2>/dev/null; then
		kill -TERM "$PIERD_PID"
		wait "$PIERD_PID" 2>/dev/null
	fi
}
trap cleanup EXIT

line step "" "what"
line "" "" "macOS $(sw_vers -productVersion 2>/dev/null) on $(uname -m); work dir $WORK"

# 1. build + sign.
if out=$(make --no-print-directory build-darwin 2>&1); then
	ok build "bin/pierd ($(file -b bin/pierd | cut -c1-40))"
else
	fail build "$(tail -n3 <<<"$out" | tr '\n' ' ')"
fi
must build
if codesign --display --entitlements - bin/pierd 2>/dev/null | grep -q com.apple.security.virtualization; then
	ok sign "com.apple.security.virtualization"
else
	fail sign "bin/pierd lacks com.apple.security.virtualization"
fi
must sign
if out=$(make --no-print-directory guest guest-assets-darwin 2>&1); then
	ok guest "bin/guest/arm64: kernel $(cat bin/guest/arm64/kernel.release)"
else
	fail guest "$(tail -n3 <<<"$out" | tr '\n' ' ')"
fi
must guest

# 2. doctor, then start pierd.
if out=$(bin/pierd doctor -H "unix://$SOCK" --data-root "$WORK/data" 2>&1); then
	ok doctor "$(tail -n1 <<<"$out")"
else
	fail doctor "$(grep -E '^fail' <<<"$out" | tr '\n' ' ')"
fi
must doctor
bin/pierd -H "unix://$SOCK" --data-root "$WORK/data" >"$LOG" 2>&1 &
PIERD_PID=$!
for _ in $(seq 1 150); do
	d version >/dev/null 2>&1 && break
	kill -0 "$PIERD_PID" 2>/dev/null || break
	sleep 0.2
done
if d version >/dev/null 2>&1; then
	ok start "pierd $PIERD_PID on $SOCK, version $(d version --format '{{.Server.Version}} ({{.Server.GitCommit}})' 2>/dev/null)"
else
	fail start "pierd did not answer: $(tail -n3 "$LOG" | tr '\n' ' ')"
fi
must start

# 3. pull by platform, run native and amd64.
run_arch() { # STEP PLATFORM WANT
	local out
	if ! out=$(d pull -q --platform "$2" "$IMAGE" 2>&1); then
		fail "pull $2" "$out"
		return
	fi
	ok "pull $2" "$out"
	if out=$(d run --rm --platform "$2" "$IMAGE" uname -m 2>&1) && [[ "$out" == "$3" ]]; then
		ok "$1" "uname -m: $out"
	else
		fail "$1" "uname -m: $out (want $3)"
	fi
}
run_arch "run native" linux/arm64 aarch64
run_arch "run amd64 (Rosetta)" linux/amd64 x86_64
must "the runs"
d pull -q --platform linux/arm64 "$IMAGE" >/dev/null 2>&1

# 4. a published port.
cid=$(d run -d -p 127.0.0.1::80 "$IMAGE" sh -c 'mkdir -p /www && echo pier-e2e-ok >/www/index.html && exec httpd -f -p 80 -h /www' 2>&1)
if [[ $? != 0 ]]; then
	fail "published port" "$cid"
else
	hostport=$(d port "$cid" 80/tcp 2>/dev/null | head -n1)
	body=
	for _ in $(seq 1 100); do
		body=$(curl -fsS --max-time 2 "http://$hostport/" 2>/dev/null) && break
		sleep 0.3
	done
	if [[ "$body" == pier-e2e-ok ]]; then
		ok "published port" "GET http://$hostport/: $body"
	else
		fail "published port" "GET http://$hostport/ gave '${body}'"
	fi
fi

# 5. a bind mount, read and written.
mkdir -p "$WORK/share"
echo from-host >"$WORK/share/in.txt"
out=$(d run --rm -v "$WORK/share:/data" "$IMAGE" sh -c 'cat /data/in.txt && echo from-guest >/data/out.txt' 2>&1)
if [[ "$out" == from-host && "$(cat "$WORK/share/out.txt" 2>/dev/null)" == from-guest ]]; then
	ok "bind mount" "read from-host, wrote from-guest"
else
	fail "bind mount" "read '$out', host sees '$(cat "$WORK/share/out.txt" 2>/dev/null)'"
fi

# 6. stop and rm.
if [[ -n "${cid:-}" && ${#cid} == 64 ]]; then
	start=$(date +%s)
	if d stop "$cid" >/dev/null 2>&1; then
		ok stop "in $(($(date +%s) - start)) s, state $(d inspect -f '{{.State.Status}}' "$cid" 2>&1)"
	else
		fail stop "$(d inspect -f '{{.State.Status}}' "$cid" 2>&1)"
	fi
	if d rm "$cid" >/dev/null 2>&1 && [[ -z "$(d ps -aq)" ]]; then
		ok rm "no containers left"
	else
		fail rm "left: $(d ps -a --format '{{.ID}} {{.Status}}' | tr '\n' ' ')"
	fi
else
	fail stop "no container to stop"
fi

# 7. stop pierd; no shim may outlive it.
kill -TERM "$PIERD_PID"
wait "$PIERD_PID"
code=$?
PIERD_PID=
left=$(pgrep -f "vz-shim --state-dir $WORK" || true)
if [[ $code == 0 && -z "$left" ]]; then
	ok "stop pierd" "exit 0, no vz-shim left"
else
	fail "stop pierd" "exit $code, shims left: ${left:-none}"
fi

if [[ $FAILED == 0 ]]; then
	line ok all "every step passed"
	rm -rf "$WORK"
else
	line FAIL all "pierd's log: $LOG; VM logs: $WORK/data/containers/*/console.log and */vm/shim.log"
	exit 1
fi

#!/usr/bin/env bash
# install-compose.sh DIR — builds Docker Compose v2 from its Go module into
# DIR/docker-compose, a docker CLI plugin (the e2e tests point the CLI at
# DIR with the cliPluginsExtraDirs setting). Debian has no package of
# Compose v2, but the Go module proxy serves its source. Idempotent: does
# nothing when DIR/docker-compose already reports the wanted version.
#
# `go install github.com/docker/compose/v2/cmd@VERSION` is refused (its
# go.mod has exclude directives), so the module is downloaded into the Go
# module cache and built there as the main module, with its own go.mod and
# go.sum, as Compose's own Makefile builds it.
set -euo pipefail

dir=${1:?usage: install-compose.sh DIR}
version=${COMPOSE_VERSION:-v2.40.3}
module=github.com/docker/compose/v2
GO=${GO:-go}

mkdir -p "$dir"
out=$(cd "$dir" && pwd)/docker-compose

if [ -x "$out" ] && [ "$("$out" version --short 2>/dev/null)" = "${version#v}" ]; then
	echo "compose: $out is already $version"
	exit 0
fi

# Outside any module, so that the download touches no go.mod or go.sum.
src=$(cd / && $GO mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
	echo "compose: could not download $module@$version" >&2
	exit 1
fi

echo "compose: building $module@$version (a few minutes the first time)"
(
	cd "$src"
	CGO_ENABLED=0 GOFLAGS=-mod=readonly $GO build -trimpath \
		-ldflags "-s -w -X $module/internal.Version=$version" \
		-o "$out.tmp" ./cmd
)
mv "$out.tmp" "$out"
echo "compose: $("$out" version)"

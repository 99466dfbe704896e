#!/usr/bin/env bash
# install-cli-plugin.sh PLUGIN DIR — builds a docker CLI plugin from its Go
# module into DIR/docker-PLUGIN (the e2e tests point the CLI at DIR with the
# cliPluginsExtraDirs setting). PLUGIN is compose (Docker Compose v2) or
# buildx (the BuildKit client `docker build` and Compose use). Debian has
# no package of either at these versions, but the Go module proxy serves
# their source. Idempotent: does nothing when the plugin already reports
# the wanted version.
#
# `go install MODULE/cmd@VERSION` is refused (their go.mod files have
# exclude or replace directives), so the module is downloaded into the Go
# module cache and built there as the main module, with its own go.mod and
# go.sum, as the projects' own Makefiles build them.
set -euo pipefail

plugin=${1:?usage: install-cli-plugin.sh compose|buildx DIR}
dir=${2:?usage: install-cli-plugin.sh compose|buildx DIR}
GO=${GO:-go}

case "$plugin" in
compose)
	version=${COMPOSE_VERSION:-v2.40.3}
	module=github.com/docker/compose/v2
	pkg=./cmd
	versionvar=$module/internal.Version
	;;
buildx)
	version=${BUILDX_VERSION:-v0.30.1}
	module=github.com/docker/buildx
	pkg=./cmd/buildx
	versionvar=$module/version.Version
	;;
*)
	echo "install-cli-plugin.sh: unknown plugin $plugin (compose or buildx)" >&2
	exit 2
	;;
esac

mkdir -p "$dir"
out=$(cd "$dir" && pwd)/docker-$plugin

# Both plugins print their version in their `version` output.
if [ -x "$out" ] && "$out" version 2>/dev/null | grep -qF -- "${version#v}"; then
	echo "$plugin: $out is already $version"
	exit 0
fi

# Outside any module, so that the download touches no go.mod or go.sum.
src=$(cd / && $GO mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
	echo "$plugin: could not download $module@$version" >&2
	exit 1
fi

echo "$plugin: building $module@$version (a few minutes the first time)"
(
	cd "$src"
	CGO_ENABLED=0 GOFLAGS=-mod=readonly $GO build -trimpath \
		-ldflags "-s -w -X $versionvar=$version" \
		-o "$out.tmp" "$pkg"
)
mv "$out.tmp" "$out"
echo "$plugin: $("$out" version)"

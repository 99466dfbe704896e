#!/usr/bin/env bash
# testdata.sh DIR — puts Debian's busybox-static .debs for amd64 and arm64 in
# DIR, the raw material of internal/testimages. Idempotent: does nothing when
# both files are already there; runs apt-get update only when the arm64
# package is not yet known. Needs root (or sudo) on Debian.
set -euo pipefail

dir=${1:?usage: testdata.sh DIR}
mkdir -p "$dir"
cd "$dir"

have() { compgen -G "busybox-static_*_$1.deb" >/dev/null; }

if have amd64 && have arm64; then
	echo "testdata: busybox-static .debs already in $dir"
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$sudo dpkg --add-architecture arm64
fi

if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1 ||
	! apt-cache show busybox-static:amd64 >/dev/null 2>&1; then
	$sudo apt-get update
fi

pkgs=()
have amd64 || pkgs+=(busybox-static:amd64)
have arm64 || pkgs+=(busybox-static:arm64)
# apt-get download runs as the _apt user when root; make DIR writable for it
# by downloading into a private temp dir and moving the files in.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download "${pkgs[@]}")
mv "$tmp"/busybox-static_*.deb .
ls -l busybox-static_*.deb

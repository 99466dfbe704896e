#!/usr/bin/env bash
# rosetta-standin.sh OUTDIR — put a stand-in for Apple's Rosetta for Linux in
# OUTDIR: Debian's qemu-x86_64-static built for arm64 (it runs x86-64 Linux
# binaries on arm64, as Rosetta does), named OUTDIR/rosetta. The QEMU driver
# shares OUTDIR where the vz driver shares Rosetta (qemu.WithRosettaStandIn),
# so `make e2e-arm64-guest` runs the Mac's emulation path on Linux.
# Idempotent: OUTDIR/rosetta.package records the package it came from. The
# .deb is cached under $PIER_GUEST_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/pier/guest-assets), next to the arm64 kernel.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUTDIR=$1
ARCH=arm64
PKG=qemu-user-static
CACHE=${PIER_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pier/guest-assets}/$ARCH
mkdir -p "$CACHE" "$OUTDIR"

log() { echo "rosetta-standin: $*" >&2; }

spec=$PKG
if [[ "$ARCH" != "$(dpkg --print-architecture)" ]]; then
	spec=$PKG:$ARCH
	if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
		log "adding dpkg architecture $ARCH"
		dpkg --add-architecture "$ARCH"
		apt-get update -qq
	fi
fi
if ! apt-cache show "$spec" >/dev/null 2>&1; then
	log "$spec unknown to apt; running apt-get update"
	apt-get update -qq
fi
VERSION=$(apt-cache show "$spec" | awk '$1 == "Version:" { print $2; exit }')
[[ -n "$VERSION" ]] || { log "no version known for $spec"; exit 1; }
STAMP="${PKG}_${VERSION}_${ARCH}"
if [[ -x "$OUTDIR/rosetta" && -f "$OUTDIR/rosetta.package" && "$(cat "$OUTDIR/rosetta.package")" == "$STAMP" ]]; then
	log "$OUTDIR already holds $STAMP"
	exit 0
fi

DEB=$(ls "$CACHE"/"${PKG}"_*_"$ARCH".deb 2>/dev/null | grep -F "_${VERSION/:/%3a}_" | head -n1 || true)
if [[ -z "$DEB" ]]; then
	log "downloading $spec $VERSION"
	(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$spec=$VERSION" >&2)
	DEB=$(ls "$CACHE"/"${PKG}"_*_"$ARCH".deb | grep -F "_${VERSION/:/%3a}_" | head -n1)
fi

WORK=$(mktemp -d "${OUTDIR%/}/.standin-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$WORK" ./usr/bin/qemu-x86_64-static
install -m 0755 "$WORK/usr/bin/qemu-x86_64-static" "$WORK/rosetta"
mv -f "$WORK/rosetta" "$OUTDIR/rosetta"
echo "$STAMP" >"$WORK/stamp" && mv "$WORK/stamp" "$OUTDIR/rosetta.package"
log "wrote $OUTDIR/rosetta (qemu-x86_64-static for $ARCH, from $STAMP)"

#!/usr/bin/env bash
# guest-assets.sh ARCH OUTDIR — fetch Debian's cloud kernel for ARCH (amd64 or
# arm64) and write into OUTDIR:
#   vmlinux          the uncompressed kernel (amd64: the ELF vmlinux taken out
#                    of the LZ4 bzImage; arm64: the gunzipped raw Image)
#   modules/<kver>/  only the modules pier needs, their dependencies, and a
#                    depmod-generated modules.dep
#   kernel.release   <kver>
#   kernel.package   the .deb the files came from (name_version)
#   busybox          static busybox (its mke2fs formats writable disks)
# For the host's own architecture it also builds the 9p modules Debian's
# cloud kernel lacks (scripts/guest-9p-modules.sh): with them, containers
# with shares start as clones of a VM template. A guest without them
# (the other architecture, built here only for rehearsals) serves shares
# over virtio-fs, with a cold boot.
# Idempotent: when OUTDIR already holds the assets of the current package it
# does nothing. The .deb is cached under $PIER_GUEST_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/pier/guest-assets).
set -euo pipefail

usage() { echo "usage: $0 amd64|arm64 OUTDIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
ARCH=$1
OUTDIR=$2
case "$ARCH" in amd64 | arm64) ;; *) usage ;; esac

# The modules pier needs; their dependencies come from modules.dep. A module
# built into the kernel (modules.builtin) is skipped.
WANTED_MODULES=(
	virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
	virtio_mmio virtio_blk failover net_failover virtio_net virtio_console
	fuse virtiofs overlay binfmt_misc
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport
)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PIER_GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pier/guest-assets}/$ARCH
mkdir -p "$CACHE" "$OUTDIR"

log() { echo "guest-assets: $*" >&2; }
die() { log "$*"; exit 1; }

# pkg_spec NAME prints NAME qualified with :ARCH when ARCH is foreign.
pkg_spec() {
	if [[ "$ARCH" == "$(dpkg --print-architecture)" ]]; then echo "$1"; else echo "$1:$ARCH"; fi
}

ensure_foreign_arch() {
	[[ "$ARCH" == "$(dpkg --print-architecture)" ]] && return 0
	dpkg --print-foreign-architectures | grep -qx "$ARCH" && return 0
	log "adding dpkg architecture $ARCH"
	dpkg --add-architecture "$ARCH"
	apt-get update -qq
}

# image_package prints the versioned image package behind linux-image-cloud-ARCH.
image_package() {
	local meta dep
	meta=$(pkg_spec "linux-image-cloud-$ARCH")
	if ! apt-cache show "$meta" >/dev/null 2>&1; then
		log "$meta unknown to apt; running apt-get update"
		apt-get update -qq
	fi
	dep=$(apt-cache depends "$meta" | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[[ -n "$dep" ]] || die "cannot find the image package behind $meta"
	echo "${dep%%:*}"
}

# install_busybox puts a static busybox of ARCH in OUTDIR: the guest init
# runs its mke2fs to format a container's writable disk on first use.
install_busybox() {
	[[ -x "$OUTDIR/busybox" ]] && return 0
	local deb dir
	deb=$(ls "$CACHE"/busybox-static_*_"$ARCH".deb 2>/dev/null | head -n1 || true)
	if [[ -z "$deb" ]]; then
		log "downloading busybox-static for $ARCH"
		(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$(pkg_spec busybox-static)" >&2)
		deb=$(ls "$CACHE"/busybox-static_*_"$ARCH".deb | head -n1)
	fi
	dir=$(mktemp -d)
	dpkg-deb -x "$deb" "$dir"
	install -m 0755 "$dir/bin/busybox" "$OUTDIR/busybox.tmp"
	mv "$OUTDIR/busybox.tmp" "$OUTDIR/busybox"
	rm -rf "$dir"
}

ensure_foreign_arch
install_busybox
PKG=$(image_package)
VERSION=$(apt-cache show "$(pkg_spec "$PKG")" | awk '$1 == "Version:" { print $2; exit }')
[[ -n "$VERSION" ]] || die "no version known for $PKG"
STAMP="${PKG}_${VERSION}"
NINEP=false
if [[ "$ARCH" == "$(dpkg --print-architecture)" ]]; then
	NINEP=true
	STAMP="$STAMP+9p"
fi

if [[ -f "$OUTDIR/kernel.package" && "$(cat "$OUTDIR/kernel.package")" == "$STAMP" &&
	-f "$OUTDIR/vmlinux" && -f "$OUTDIR/kernel.release" &&
	-f "$OUTDIR/modules/$(cat "$OUTDIR/kernel.release")/modules.dep" ]]; then
	log "$OUTDIR already holds $STAMP"
	exit 0
fi

DEB=$(ls "$CACHE"/"${PKG}"_*_"$ARCH".deb 2>/dev/null | grep -F "_${VERSION/:/%3a}_" | head -n1 || true)
if [[ -z "$DEB" ]]; then
	log "downloading $PKG $VERSION"
	# apt's _apt sandbox user may not write to CACHE; download as ourselves.
	(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$(pkg_spec "$PKG")=$VERSION" >&2)
	DEB=$(ls "$CACHE"/"${PKG}"_*_"$ARCH".deb | grep -F "_${VERSION/:/%3a}_" | head -n1)
fi

WORK=$(mktemp -d "${OUTDIR%/}/.assets-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
dpkg-deb -x "$DEB" "$WORK/deb"
KVER=$(ls "$WORK/deb/lib/modules")
[[ $(wc -w <<<"$KVER") -eq 1 ]] || die "expected one kernel in $DEB, found: $KVER"
SRC="$WORK/deb/lib/modules/$KVER"

# The kernel.
case "$ARCH" in
amd64)
	(cd "$REPO_ROOT" && "${GO:-go}" run ./internal/cmd/extract-vmlinux "$WORK/deb/boot/vmlinuz-$KVER" "$WORK/vmlinux")
	;;
arm64)
	# Debian ships the raw Image, gzipped in some releases.
	if gzip -t "$WORK/deb/boot/vmlinuz-$KVER" 2>/dev/null; then
		gzip -dc <"$WORK/deb/boot/vmlinuz-$KVER" >"$WORK/vmlinux"
	else
		cp "$WORK/deb/boot/vmlinuz-$KVER" "$WORK/vmlinux"
	fi
	;;
esac

# The modules: resolve the wanted ones and their dependencies against the
# full tree's modules.dep, copy only those, then depmod the small tree.
if $NINEP; then
	bash "$REPO_ROOT/scripts/guest-9p-modules.sh" "$KVER" "$VERSION" "$CACHE" "$SRC/extra"
	WANTED_MODULES+=(9pnet_virtio 9p)
fi
depmod -b "$WORK/deb" "$KVER"
declare -A PICKED=()
# module_path NAME prints the .ko path (relative to SRC) of module NAME.
module_path() {
	local name=${1//-/_}
	awk -F: -v n="$name" '{ b = $1; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); gsub(/-/, "_", b); if (b == n) { print $1; exit } }' "$SRC/modules.dep"
}
pick() {
	local rel=$1 dep
	[[ -n "${PICKED[$rel]:-}" ]] && return 0
	PICKED[$rel]=1
	for dep in $(awk -F: -v p="$rel" '$1 == p { print $2; exit }' "$SRC/modules.dep"); do
		pick "$dep"
	done
}
for m in "${WANTED_MODULES[@]}"; do
	rel=$(module_path "$m")
	if [[ -n "$rel" ]]; then
		pick "$rel"
	elif grep -Eq "/${m}\.ko$|/${m//_/-}\.ko$" "$SRC/modules.builtin"; then
		log "$m is built into $KVER"
	else
		die "module $m is neither in $KVER's modules nor built in"
	fi
done
DST="$WORK/mods/lib/modules/$KVER"
mkdir -p "$DST"
cp "$SRC/modules.builtin" "$SRC/modules.order" "$DST/"
[[ -f "$SRC/modules.builtin.modinfo" ]] && cp "$SRC/modules.builtin.modinfo" "$DST/"
for rel in "${!PICKED[@]}"; do
	mkdir -p "$DST/$(dirname "$rel")"
	case "$rel" in
	*.ko) cp "$SRC/$rel" "$DST/$rel" ;;
	*) die "compressed module $rel: not supported" ;;
	esac
done
depmod -b "$WORK/mods" "$KVER"
log "$KVER: ${#PICKED[@]} modules"

# Install: each file by rename; kernel.package last, so an interrupted run is
# redone next time.
rm -f "$OUTDIR/kernel.package"
mv -f "$WORK/vmlinux" "$OUTDIR/vmlinux"
mkdir -p "$OUTDIR/modules"
rm -rf "$OUTDIR/modules/$KVER.old"
[[ -e "$OUTDIR/modules/$KVER" ]] && mv "$OUTDIR/modules/$KVER" "$OUTDIR/modules/$KVER.old"
mv "$DST" "$OUTDIR/modules/$KVER"
rm -rf "$OUTDIR/modules/$KVER.old"
echo "$KVER" >"$WORK/kernel.release" && mv "$WORK/kernel.release" "$OUTDIR/kernel.release"
echo "$STAMP" >"$WORK/kernel.package" && mv "$WORK/kernel.package" "$OUTDIR/kernel.package"
log "wrote $OUTDIR (kernel $KVER from $STAMP)"

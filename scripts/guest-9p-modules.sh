#!/usr/bin/env bash
# guest-9p-modules.sh KVER VERSION CACHE OUTDIR — build the 9p modules
# (9pnet, 9pnet_virtio, 9p) for Debian's kernel KVER (package version
# VERSION), which does not ship them, and write the three .ko files into
# OUTDIR.
#
# Why: a VM template can carry 9p share slots (QEMU's own 9p server is
# re-pointed per clone), while virtio-fs blocks QEMU 7.2's migration; so
# with 9p, containers with bind mounts and volumes start as clones
# (docs/architecture.md, "VM templates").
#
# How: Debian's own kernel source of the same version (linux-source-X.Y:
# only fs/9p and net/9p are unpacked) built out of tree against the
# kernel's headers package (linux-headers-KVER and the -common and
# linux-kbuild packages it depends on), all unpacked into a temporary
# directory, nothing installed. Needs the kernel's compiler (gcc-12 on
# Debian 12) for the host's own architecture: the headers' build tools are
# host binaries. The .debs are cached in CACHE.
set -euo pipefail

[[ $# -eq 4 ]] || { echo "usage: $0 KVER VERSION CACHE OUTDIR" >&2; exit 2; }
KVER=$1
VERSION=$2
CACHE=$3
OUTDIR=$4

log() { echo "guest-9p-modules: $*" >&2; }
die() { log "$*"; exit 1; }

# depends_on PKG PATTERN prints PKG's dependency whose name matches PATTERN.
depends_on() {
	apt-cache depends "$1=$VERSION" 2>/dev/null | awk -v p="$2" '$1 == "Depends:" && $2 ~ p { print $2; exit }'
}

# fetch PKG prints the path of PKG's .deb at VERSION, downloading it once.
fetch() {
	local deb
	deb=$(ls "$CACHE"/"$1"_"${VERSION/:/%3a}"_*.deb 2>/dev/null | head -n1 || true)
	if [[ -z "$deb" ]]; then
		log "downloading $1 $VERSION"
		# apt's _apt sandbox user may not write to CACHE; download as ourselves.
		(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$1=$VERSION" >&2)
		deb=$(ls "$CACHE"/"$1"_"${VERSION/:/%3a}"_*.deb | head -n1)
	fi
	echo "$deb"
}

headers=linux-headers-$KVER
common=$(depends_on "$headers" '^linux-headers-.*-common$')
kbuild=$(depends_on "$headers" '^linux-kbuild-')
[[ -n "$common" && -n "$kbuild" ]] || die "cannot find what $headers $VERSION depends on"
source=linux-source-${kbuild#linux-kbuild-}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for p in "$headers" "$common" "$kbuild" "$source"; do
	dpkg-deb -x "$(fetch "$p")" "$WORK/root"
done
hdr=$WORK/root/usr/src/$headers
[[ -f "$hdr/Makefile" ]] || die "$headers has no Makefile"
# The flavour's Makefile includes the common one by its installed path.
sed -i "s#/usr/src/#$WORK/root/usr/src/#" "$hdr/Makefile"

tarball=$(ls "$WORK"/root/usr/src/linux-source-*.tar.* | head -n1)
top=$(basename "${tarball%.tar.*}")
tar -xf "$tarball" -C "$WORK" "$top/fs/9p" "$top/net/9p"

# The modules as the kernel's own Makefiles build them, without the
# optional parts the kernel's configuration leaves out (fscache, ACLs)
# and without the transports a VM does not use (fd, xen, rdma).
mod=$WORK/mod
mkdir -p "$mod/fs"
cp "$WORK/$top"/net/9p/{mod.c,client.c,error.c,protocol.c,protocol.h,trans_common.c,trans_common.h,trans_virtio.c} "$mod/"
cp "$WORK/$top"/fs/9p/*.[ch] "$mod/fs/"
rm -f "$mod/fs/cache.c" "$mod/fs/acl.c"
cat >"$mod/Kbuild" <<'EOF'
obj-m := 9pnet.o 9pnet_virtio.o fs/
9pnet-objs := mod.o client.o error.o protocol.o trans_common.o
9pnet_virtio-objs := trans_virtio.o
EOF
cat >"$mod/fs/Kbuild" <<'EOF'
obj-m := 9p.o
9p-objs := vfs_super.o vfs_inode.o vfs_inode_dotl.o vfs_addr.o vfs_file.o vfs_dir.o vfs_dentry.o v9fs.o fid.o xattr.o
EOF
log "building 9pnet, 9pnet_virtio and 9p for $KVER"
make -s -C "$hdr" M="$mod" -j"$(nproc)" modules >"$WORK/build.log" 2>&1 || {
	tail -20 "$WORK/build.log" >&2
	die "building the 9p modules failed"
}
mkdir -p "$OUTDIR"
install -m 0644 "$mod/9pnet.ko" "$mod/9pnet_virtio.ko" "$mod/fs/9p.ko" "$OUTDIR/"

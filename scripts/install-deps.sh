#!/usr/bin/env bash
# install-deps.sh — installs, from Debian's packages, what pier needs to build,
# run and test. Idempotent: packages already installed are skipped, and
# `apt-get update` runs only when something is missing.
set -euo pipefail

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) qemu_system=qemu-system-x86 ;;
arm64) qemu_system=qemu-system-arm ;;
*) echo "install-deps: pier runs on amd64 and arm64 hosts, not $arch" >&2; exit 1 ;;
esac

# qemu-system-common brings /usr/lib/qemu/virtiofsd; qemu-user-static the
# emulators for images of the other architecture; busybox-static the guest's
# mke2fs and the test images; e2fsprogs checks root disks in tests; kmod
# (depmod) prepares the guest kernel's modules; util-linux gives unshare
# (read-only virtio-fs shares) and script (the TTY test); runc runs the RUN
# steps of the builder daemon's tests (guest/builder) on the host; gcc-12,
# make and xz-utils build the guest's 9p modules from Debian's kernel
# source (scripts/guest-9p-modules.sh).
packages=("$qemu_system" qemu-system-common qemu-user-static busybox-static kmod e2fsprogs ca-certificates util-linux runc gcc-12 make xz-utils)
# qemu-system-arm (qemu-system-aarch64) also on x86-64 hosts: make
# e2e-arm64-guest boots the Mac's arm64 guest under it.
[[ "$qemu_system" == qemu-system-arm ]] || packages+=(qemu-system-arm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The tests drive the real docker CLI; Debian ships it in docker.io (its
# daemon is not used, and is not started where there is no init system).
command -v docker >/dev/null || missing+=(docker.io)

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: everything is installed"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root (or install them yourself)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

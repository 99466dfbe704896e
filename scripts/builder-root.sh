#!/usr/bin/env bash
# builder-root.sh ARCH OUT — the root file system of pier's builder VM
# (engine/build) as a tar: pier's BuildKit daemon (guest/cmd/pier-buildkitd,
# static), the small pier-dial-stdio that connects pierd to it, and runc with the libraries it links, from Debian's packages for
# ARCH (amd64 or arm64; downloaded into $DEBS, default bin/cache/builder).
# pierd turns the tar into the builder's root disk. Needs root (or sudo)
# on Debian when a package is not yet downloaded.
set -euo pipefail

arch=${1:?usage: builder-root.sh ARCH OUT}
out=${2:?usage: builder-root.sh ARCH OUT}
GO=${GO:-go}
debs=${DEBS:-bin/cache/builder}
packages=(runc libseccomp2 libc6)

mkdir -p "$debs"
missing=()
for p in "${packages[@]}"; do
	compgen -G "$debs/${p}_*_$arch.deb" >/dev/null || missing+=("$p:$arch")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
	if [ "$arch" != "$(dpkg --print-architecture)" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		$sudo dpkg --add-architecture "$arch"
		$sudo apt-get update -qq
	fi
	if ! apt-cache show "${missing[0]}" >/dev/null 2>&1; then
		$sudo apt-get update -qq
	fi
	# apt-get download runs as the _apt user when root: a private
	# world-writable temp dir, then the files move in.
	dl=$(mktemp -d)
	chmod 0777 "$dl"
	(cd "$dl" && apt-get download "${missing[@]}")
	mv "$dl"/*.deb "$debs"/
	rm -rf "$dl"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for p in "${packages[@]}"; do
	deb=$(compgen -G "$debs/${p}_*_$arch.deb" | sort | tail -1)
	dpkg-deb -x "$deb" "$stage"
done
# What the VM does not need of those packages.
rm -rf "$stage/usr/share" "$stage/usr/lib/gconv" "$stage/usr/lib/$(ls "$stage/usr/lib" | grep -- '-linux-gnu$' | head -1)/gconv" 2>/dev/null || true
mkdir -p "$stage/usr/local/bin" "$stage/etc" "$stage/tmp" "$stage/run" "$stage/var/lib/pier-buildkit" \
	"$stage/proc" "$stage/sys" "$stage/dev" "$stage/root"
chmod 1777 "$stage/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
: >"$stage/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n' >"$stage/etc/hosts"
for cmd in pier-buildkitd pier-dial-stdio; do
	CGO_ENABLED=0 GOOS=linux GOARCH="$arch" $GO build -trimpath -ldflags='-s -w' \
		-o "$stage/usr/local/bin/$cmd" "./guest/cmd/$cmd"
done

mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "builder-root: $out ($(du -h "$out" | cut -f1))"

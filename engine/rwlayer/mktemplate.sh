#!/usr/bin/env bash
# Regenerates template.ext4.gz, the empty ext4 filesystem every writable
# disk starts from (run by hand when the layout must change; pier itself
# never runs mke2fs). 128 MiB is one full block group, so inodes-per-group
# (8192, one inode per 16 KiB) stays right when the guest grows the
# filesystem online to the disk's size; resize= reserves group-descriptor
# blocks for growth to 4 TiB. Lazy init keeps the image almost all zeros.
set -euo pipefail
cd "$(dirname "$0")"
img=$(mktemp)
trap 'rm -f "$img"' EXIT
truncate -s 128M "$img"
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -F -t ext4 -b 4096 -i 16384 -I 256 -m 0 \
	-L pier-rw -U 5d0c6a39-6a1e-4f0b-9d55-706965727277 \
	-E lazy_itable_init=1,lazy_journal_init=1,resize=1073741824,root_owner=0:0 \
	-O ^orphan_file "$img"
gzip -9 -n -c "$img" >template.ext4.gz

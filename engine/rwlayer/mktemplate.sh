#!/usr/bin/env bash
# Regenerates the empty ext4 filesystems writable disks start from (run by
# hand when the layout must change; pier itself never runs mke2fs):
#   template.ext4.gz        128 MiB, for disks of any size: 128 MiB is one
#                           full block group, so inodes-per-group (8192, one
#                           inode per 16 KiB) stays right when the guest grows
#                           the filesystem online to the disk's size;
#   template-8g.sparse.gz   8 GiB, the default disk size, already full size,
#                           so the guest has nothing to grow (growing 107 MiB
#                           to 8 GiB cost ~0.55 s of every first start under
#                           TCG); stored as its non-zero blocks (mksparse).
# resize= reserves group-descriptor blocks for growth to 4 TiB. Lazy init
# keeps the images almost all zeros.
set -euo pipefail
cd "$(dirname "$0")"
img=$(mktemp)
trap 'rm -f "$img"' EXIT
mkfs() {
	rm -f "$img"
	truncate -s "$1" "$img"
	E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -F -t ext4 -b 4096 -i 16384 -I 256 -m 0 \
		-L pier-rw -U 5d0c6a39-6a1e-4f0b-9d55-706965727277 \
		-E lazy_itable_init=1,lazy_journal_init=1,resize=1073741824,root_owner=0:0 \
		-O ^orphan_file "$img"
}
mkfs 128M
gzip -9 -n -c "$img" >template.ext4.gz
mkfs 8G
go run ./mksparse "$img" template-8g.sparse.gz

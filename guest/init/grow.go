//go:build linux

package init

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ext4ResizeFS is EXT4_IOC_RESIZE_FS, _IOW('f', 16, __u64): grow a mounted
// ext4 filesystem to a new block count.
const ext4ResizeFS = 0x40086610

// growFilesystem grows the ext4 filesystem mounted at dir to fill dev. The
// host writes a small filesystem on a larger sparse disk (engine/rwlayer)
// and may enlarge the disk later; a filesystem that already fills its disk
// is left as it is.
func growFilesystem(dev, dir string) error {
	devSize, err := blockDeviceSize(dev)
	if err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	blocks := uint64(devSize) / uint64(st.Bsize)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, d.Fd(), ext4ResizeFS, uintptr(unsafe.Pointer(&blocks))); errno != 0 {
		return fmt.Errorf("grow the filesystem on %s to %d blocks: %w", dev, blocks, errno)
	}
	var after unix.Statfs_t
	if unix.Statfs(dir, &after) == nil && after.Blocks > st.Blocks {
		logf("grew the writable filesystem from %d to %d MiB", st.Blocks*uint64(st.Bsize)>>20, after.Blocks*uint64(after.Bsize)>>20)
	}
	return nil
}

func blockDeviceSize(dev string) (int64, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var size uint64
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&size))); errno != 0 {
		return 0, fmt.Errorf("size of %s: %w", dev, errno)
	}
	return int64(size), nil
}

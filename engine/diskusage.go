package engine

import (
	"io/fs"
	"syscall"
)

// diskUsage is the space a file really takes (sparse disks count only
// their allocated blocks).
func diskUsage(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

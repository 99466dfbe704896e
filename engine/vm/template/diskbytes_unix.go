//go:build unix

package template

import (
	"os"
	"path/filepath"
	"syscall"
)

// diskBytes is the space the files in dir take (sparse files count only
// their allocated blocks).
func diskBytes(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += fi.Size()
		}
	}
	return n
}

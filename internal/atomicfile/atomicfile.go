// Package atomicfile writes a file so that a reader sees the old content
// or the new, never a part (moby's atomicwriter: a temporary file beside
// it, synced and renamed), and sweeps the temporary files a daemon killed
// in the middle of such a write leaves behind.
package atomicfile

import (
	"os"
	"path/filepath"

	"github.com/moby/sys/atomicwriter"
)

// Write replaces path with b, atomically.
func Write(path string, b []byte, perm os.FileMode) error {
	return atomicwriter.WriteFile(path, b, perm)
}

// SweepTemps removes what an interrupted Write of path left: the
// temporary files atomicwriter names ".tmp-<base>…" in path's directory.
// It is for a store's open, when no Write of path can be running.
func SweepTemps(path string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".tmp-"+globEscape(filepath.Base(path))+"*"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
}

// globEscape quotes the pattern characters a file name may hold.
func globEscape(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '*', '?', '[', '\\':
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

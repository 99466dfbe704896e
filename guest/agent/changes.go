//go:build linux

package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// ownFiles are the files pier-init writes into every container's root at
// start (dockerd bind-mounts them from outside): not the container's
// changes.
var ownFiles = map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}

// layerChanges lists what the overlay's upper directory changes in the
// image's root (lower), in path order, with Docker's rules: a whiteout (a
// 0/0 character device) is a deletion; a path the image has is modified,
// except a directory whose size, mode and mtime are the image's (it is in
// the upper directory only because something below it changed); any other
// path is added; the directory holding an addition or a deletion is
// modified.
func layerChanges(upper, lower string) ([]proto.Change, error) {
	var out []proto.Change
	changedDirs := map[string]bool{}
	// The layers may be links to directories (/proc/self/fd/N): "/."
	// walks the directory, not the link.
	err := filepath.WalkDir(upper+"/.", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		path := "/" + rel
		if ownFiles[path] {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		change := proto.Change{Path: path, Kind: proto.ChangeAdd}
		if isWhiteout(fi) {
			change.Kind = proto.ChangeDelete
		} else if lower != "" {
			if lfi, err := os.Lstat(filepath.Join(lower, rel)); err == nil {
				if lfi.IsDir() && fi.IsDir() && lfi.Size() == fi.Size() && lfi.Mode() == fi.Mode() && sameSecond(lfi, fi) {
					return nil
				}
				change.Kind = proto.ChangeModify
			} else if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
				return err
			}
		}
		if fi.IsDir() {
			changedDirs[path] = true
		}
		if change.Kind != proto.ChangeModify {
			if parent := filepath.Dir(path); parent != "/" && !changedDirs[parent] {
				out = append(out, proto.Change{Path: parent, Kind: proto.ChangeModify})
				changedDirs[parent] = true
			}
		}
		out = append(out, change)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dropOwnDirs(out), nil
}

// dropOwnDirs leaves out /etc when it is modified only because of
// ownFiles.
func dropOwnDirs(changes []proto.Change) []proto.Change {
	under := false
	for _, c := range changes {
		if strings.HasPrefix(c.Path, "/etc/") {
			under = true
		}
	}
	if under {
		return changes
	}
	out := changes[:0]
	for _, c := range changes {
		if c.Path != "/etc" || c.Kind != proto.ChangeModify {
			out = append(out, c)
		}
	}
	return out
}

// isWhiteout tells an overlayfs whiteout: a character device 0/0.
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// sameSecond compares mtimes as Docker does: equal, or the same second
// with one of them without sub-second precision.
func sameSecond(a, b fs.FileInfo) bool {
	ta, tb := a.ModTime(), b.ModTime()
	return ta.Equal(tb) || (ta.Unix() == tb.Unix() && (ta.Nanosecond() == 0 || tb.Nanosecond() == 0))
}

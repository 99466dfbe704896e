//go:build linux

package agent

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pier-agent: "+format+"\n", a...)
}

// capabilityXattr is the one extended attribute archives carry, as
// Docker's do (file capabilities, e.g. ping's cap_net_raw).
const capabilityXattr = "security.capability"

// tarball writes files into a tar stream as dockerd does: PAX headers,
// mtimes to the second, owners by number, hard links once, directories
// with a trailing slash, sockets left out.
type tarball struct {
	tw *tar.Writer
	// links maps a multiply linked file to the name it was first written as.
	links map[[2]uint64]string
	// skipContent lists directories written without their content.
	skipContent map[string]bool
}

func newTarball(w io.Writer) *tarball {
	return &tarball{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
}

func (t *tarball) close() error { return t.tw.Close() }

// addTree writes host (a file, a link, or a directory and all below it)
// under name; an empty name writes a directory's content at the top of
// the archive, without an entry for the directory itself.
func (t *tarball) addTree(host, name string) error {
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == host {
				return err
			}
			logf("archive: %v", err)
			return nil
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return err
		}
		entry := name
		switch {
		case rel == "." && name == "":
			return nil
		case rel == ".":
		case name == "":
			entry = rel
		default:
			entry = name + "/" + rel
		}
		if err := t.add(p, entry); err != nil {
			if errors.Is(err, errHostClosed) {
				return err
			}
			logf("archive %s: %v", entry, err)
		}
		if d.IsDir() && t.skipContent[p] {
			return filepath.SkipDir
		}
		return nil
	})
}

// add writes one file.
func (t *tarball) add(p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket != 0 {
		return nil
	}
	var link string
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if first, seen := t.links[key]; seen {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			t.links[key] = name
		}
	}
	if v := lgetxattr(p, capabilityXattr); v != nil {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr." + capabilityXattr: string(v)}
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return t.pad(hdr.Size, err)
	}
	defer f.Close()
	n, err := io.CopyN(t.tw, f, hdr.Size)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	// A file that shrank meanwhile is padded to the size announced.
	return t.pad(hdr.Size-n, nil)
}

func (t *tarball) pad(n int64, cause error) error {
	if n > 0 {
		if _, err := io.CopyN(t.tw, zeros{}, n); err != nil {
			return err
		}
	}
	return cause
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// lgetxattr returns an extended attribute of p (nil when it has none).
func lgetxattr(p, attr string) []byte {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, attr, buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}

//go:build linux

package agent

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// The writable layer as an image layer (docker commit): the overlay's
// upper directory written as an OCI layer tar, overlayfs's own markers
// turned into the archive's.

// Whiteout names of an image layer (the OCI image spec's, Docker's).
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// opaqueXattr marks an overlay directory that hides what the layers below
// have at its path (its value is "y").
const opaqueXattr = "trusted.overlay.opaque"

// writeLayer writes upper, the overlay's upper directory, as a layer tar
// in path order: every path but pier-init's own files (and /etc when it
// is there only for them); a whiteout (a 0/0 character device) becomes an
// empty ".wh.<name>" file with the device's owner and mtime, as Docker's
// overlay2 writes it; an opaque directory is followed by its
// ".wh..wh..opq". Owners, modes, mtimes, symbolic and hard links and file
// capabilities are kept, as in the other archives.
func writeLayer(w io.Writer, upper string) error {
	tb := newTarball(w)
	skipEtc := onlyOwnFiles(filepath.Join(upper, "etc"))
	err := filepath.WalkDir(upper+"/.", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		if ownFiles["/"+rel] || (skipEtc && rel == "etc") {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if isWhiteout(fi) {
			return tb.addWhiteout(fi, rel)
		}
		if err := tb.add(p, rel); err != nil {
			return fmt.Errorf("%s: %w", "/"+rel, err)
		}
		if fi.IsDir() && string(lgetxattr(p, opaqueXattr)) == "y" {
			return tb.addOpaque(fi, rel)
		}
		return nil
	})
	// A failed walk still ends the archive: the host then reads the
	// error in the final Response, not a torn tar.
	if cerr := tb.close(); err == nil {
		err = cerr
	}
	return err
}

// onlyOwnFiles tells whether dir holds nothing but pier-init's own files
// (false when it is missing).
func onlyOwnFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !ownFiles["/etc/"+e.Name()] {
			return false
		}
	}
	return true
}

// addWhiteout writes the deletion of rel: an empty ".wh.<name>" file.
func (t *tarball) addWhiteout(fi fs.FileInfo, rel string) error {
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(rel)
	hdr.Name = dir + whiteoutPrefix + base
	hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o600, 0
	hdr.Devmajor, hdr.Devminor = 0, 0
	return t.writeMarker(hdr)
}

// addOpaque writes the marker that the directory rel hides the lower
// layers' content: a ".wh..wh..opq" file with the directory's owner and
// permissions.
func (t *tarball) addOpaque(fi fs.FileInfo, rel string) error {
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name = strings.TrimSuffix(rel, "/") + "/" + whiteoutOpaque
	hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, hdr.Mode&int64(fs.ModePerm), 0
	return t.writeMarker(hdr)
}

func (t *tarball) writeMarker(hdr *tar.Header) error {
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	return t.tw.WriteHeader(hdr)
}

// serveLayer sends a Response, the writable layer as a layer tar, then a
// final Response that says whether the whole layer was written.
// With freeze, the writable disk's file system is frozen (FIFREEZE) while
// it is read, so the container's writes wait and the layer is one moment
// of it: what docker commit's pause is for.
func (a *Agent) serveLayer(stream net.Conn, freeze bool) {
	var upper string
	if a.hooks.Layers != nil {
		upper, _ = a.hooks.Layers()
	}
	if upper == "" {
		failFile(stream, errors.New("the container's writable layer is not mounted"))
		return
	}
	if freeze {
		thaw, err := freezeFS(upper)
		if err != nil {
			failFile(stream, err)
			return
		}
		defer thaw()
	}
	if err := proto.WriteMessage(stream, proto.Response{}); err != nil {
		stream.Close()
		return
	}
	w := watchHostClose(stream)
	final := proto.Response{}
	if err := writeLayer(w, upper); err != nil {
		logf("layer: %v", err)
		final = errorResponse(fmt.Errorf("reading the writable layer: %w", err))
	}
	if !w.closed.Load() {
		proto.WriteMessage(stream, final)
	}
	stream.Close()
}

// The file system freeze ioctls, _IOWR('X', 119 and 120, int): the same
// numbers on every Linux architecture pier's guests run.
const (
	fifreeze = 0xc0045877
	fithaw   = 0xc0045878
)

// freezeMu makes concurrent frozen reads of the layer wait for each other
// (a second FIFREEZE of a frozen file system fails with EBUSY).
var freezeMu sync.Mutex

// freezeFS freezes the file system holding dir and returns the function
// that thaws it.
func freezeFS(dir string) (func(), error) {
	freezeMu.Lock()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		freezeMu.Unlock()
		return nil, err
	}
	if err := unix.IoctlSetInt(fd, fifreeze, 0); err != nil {
		unix.Close(fd)
		freezeMu.Unlock()
		return nil, fmt.Errorf("freezing the writable layer: %w", err)
	}
	return func() {
		if err := unix.IoctlSetInt(fd, fithaw, 0); err != nil {
			logf("thawing the writable layer: %v", err)
		}
		unix.Close(fd)
		freezeMu.Unlock()
	}, nil
}

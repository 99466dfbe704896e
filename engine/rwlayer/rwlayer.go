// Package rwlayer creates a container's writable disk: the ext4 filesystem
// that holds the overlay's upper layer inside the VM. It needs neither root
// nor mkfs on the host (so it works on macOS too): the disk starts as an
// embedded, empty ext4 filesystem of TemplateSize (made once by
// mktemplate.sh) written sparsely, and the file is then extended sparsely
// to the wanted size. The guest grows the filesystem online to the whole
// disk each time it mounts it (EXT4_IOC_RESIZE_FS), so the same file can
// later be reattached, or enlarged, and keeps everything written to it.
package rwlayer

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

//go:embed template.ext4.gz
var template []byte

// fullTemplate is an empty ext4 of FullTemplateSize as a sparse image
// (mktemplate.sh): a disk of exactly that size starts full size, and the
// guest has nothing to grow at its first mount.
//
//go:embed template-8g.sparse.gz
var fullTemplate []byte

// FullTemplateSize is the size of the full-size template: the default
// writable disk size.
const FullTemplateSize = 8 << 30

// TemplateSize is the size of the embedded filesystem: the smallest disk
// Create makes.
const TemplateSize = 128 << 20

// blockSize is the unit in which zero runs are skipped.
const blockSize = 4096

// Create writes a new writable disk of size bytes at path. It refuses to
// overwrite an existing file. The disk is written beside path (tempPrefix)
// and linked into place once complete, so a process killed half-way never
// leaves a torn disk at path that a later start would mount.
func Create(path string, size int64) (err error) {
	if size < TemplateSize {
		return fmt.Errorf("writable disk of %d bytes is smaller than the minimum %d", size, TemplateSize)
	}
	if _, err := os.Lstat(path); err == nil {
		return &os.PathError{Op: "create", Path: path, Err: os.ErrExist}
	}
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path)+"*")
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Link(f.Name(), path) // fails if path appeared meanwhile
		}
		os.Remove(f.Name())
	}()
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if size == FullTemplateSize {
		if _, err := readSparseImage(f, fullTemplate); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	} else {
		zr, err := gzip.NewReader(bytes.NewReader(template))
		if err != nil {
			return fmt.Errorf("writable disk template: %w", err)
		}
		if err := copySparse(f, zr); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// tempPrefix is how the unfinished disk of a Create of path is named in
// path's directory (as internal/atomicfile names its temporary files, so
// its SweepTemps removes what a killed Create left).
func tempPrefix(path string) string { return ".tmp-" + filepath.Base(path) }

// copySparse copies r into f, seeking over all-zero blocks so they take
// no space on disk.
func copySparse(f *os.File, r io.Reader) error {
	buf := make([]byte, blockSize)
	zero := make([]byte, blockSize)
	var off int64
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if !bytes.Equal(buf[:n], zero[:n]) {
				if _, werr := f.WriteAt(buf[:n], off); werr != nil {
					return werr
				}
			}
			off += int64(n)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

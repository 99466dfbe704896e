package image

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func (s *Service) blobPath(digest string) string {
	return filepath.Join(s.root, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (s *Service) hasBlob(digest string) bool {
	_, err := os.Stat(s.blobPath(digest))
	return err == nil
}

// writeBlob stores r under digest: it is written to a temp file while
// hashed and counted, and renamed only when the digest (and size, when
// known) match, so a truncated or corrupt download leaves nothing behind.
func (s *Service) writeBlob(digest string, size int64, r io.Reader, progress func(int64)) error {
	dst := s.blobPath(digest)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countingWriter{progress: progress}
	if _, err := io.Copy(io.MultiWriter(tmp, h, cw), r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if got != digest {
		return fmt.Errorf("filesystem layer verification failed for digest %s: got %s", digest, got)
	}
	if size > 0 && cw.n != size {
		return fmt.Errorf("blob %s: got %d bytes, want %d", digest, cw.n, size)
	}
	return os.Rename(tmp.Name(), dst)
}

// uncompressedSize counts the bytes of a stored gzip (or plain) layer.
func (s *Service) uncompressedSize(digest string) int64 {
	f, err := os.Open(s.blobPath(digest))
	if err != nil {
		return 0
	}
	defer f.Close()
	var r io.Reader = f
	if zr, err := gzip.NewReader(f); err == nil {
		defer zr.Close()
		r = zr
	} else {
		f.Seek(0, io.SeekStart)
	}
	n, _ := io.Copy(io.Discard, r)
	return n
}

type countingWriter struct {
	n        int64
	progress func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.progress != nil {
		c.progress(c.n)
	}
	return len(p), nil
}

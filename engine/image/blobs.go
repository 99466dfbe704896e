package image

import (
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

// writeBlob stores r under digest: it is written to a temp file while hashed
// and counted, and renamed only when the digest and the size (when known,
// > 0) match, so a truncated or corrupt download leaves nothing behind.
// wrote says whether the blob was created (false when it was already there).
func (s *Service) writeBlob(digest string, size int64, r io.Reader, progress func(int64)) (wrote bool, err error) {
	dst := s.blobPath(digest)
	if _, err := os.Stat(dst); err == nil {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countingWriter{progress: progress}
	if _, err := io.Copy(io.MultiWriter(tmp, h, cw), r); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if size > 0 && cw.n != size {
		return false, fmt.Errorf("blob %s: got %d bytes, want %d", digest, cw.n, size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return false, fmt.Errorf("filesystem layer verification failed for digest %s", digest)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return false, err
	}
	return true, nil
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

// countingReader reports the bytes read so far to onRead.
type countingReader struct {
	io.ReadCloser
	n      int64
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.onRead(c.n)
	}
	return n, err
}

package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Helpers the drivers share for templates (vm.Templater).

// CreatePlaceholderDisk creates path as a sparse file of size bytes: a
// template's stand-in for a disk slot.
func CreatePlaceholderDisk(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PlaceholderMAC is a template's NIC i; a clone's guest gives each NIC its
// container's MAC (guest/init matches NICs by order when none has it).
func PlaceholderMAC(i int) string { return fmt.Sprintf("02:50:00:00:00:%02x", i) }

// FileDigest is the sha256 of the file at path, cached by path, size and
// modification time: template keys hash the kernel and initramfs at every
// start.
func FileDigest(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	digests.mu.Lock()
	got, ok := digests.m[path]
	digests.mu.Unlock()
	if ok && got.size == fi.Size() && got.mtime.Equal(fi.ModTime()) {
		return got.sum, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	digests.mu.Lock()
	digests.m[path] = cachedDigest{size: fi.Size(), mtime: fi.ModTime(), sum: sum}
	digests.mu.Unlock()
	return sum, nil
}

var digests = struct {
	mu sync.Mutex
	m  map[string]cachedDigest
}{m: map[string]cachedDigest{}}

type cachedDigest struct {
	size  int64
	mtime time.Time
	sum   string
}

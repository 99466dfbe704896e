package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/pier-vm/pier/errdefs"
)

func (s *Service) rootDiskPath(manifestDigest string) string {
	return filepath.Join(s.root, "rootfs", strings.TrimPrefix(manifestDigest, "sha256:")+".ext4")
}

// RootDisk returns the image's read-only ext4 root disk, built once per
// manifest digest: the layers flattened (whiteouts applied) and written by
// tar2ext4, ownership and modes from the tar headers, no host mkfs.
func (s *Service) RootDisk(ctx context.Context, img *Image) (string, error) {
	if img == nil || img.ManifestDigest == "" {
		return "", errdefs.InvalidParameterf("no image given for the root disk")
	}
	path := s.rootDiskPath(img.ManifestDigest)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	// Callers share one build; it runs to completion (or failure) even when
	// the caller that started it gives up, since the others may still wait.
	ch := s.disks.DoChan(img.ManifestDigest, func() (any, error) {
		return nil, s.buildRootDisk(img.ManifestDigest, path)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return path, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// buildRootDisk flattens the stored image (whiteouts applied) into a temp
// file with tar2ext4 and renames it to path.
func (s *Service) buildRootDisk(manifestDigest, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	s.mu.Lock()
	rec := s.images[manifestDigest]
	if rec == nil {
		s.mu.Unlock()
		return errdefs.NotFoundf("No such image: %s", manifestDigest)
	}
	blobs := append(layerDigests(rec), rec.ID, rec.ManifestDigest)
	for _, b := range blobs {
		s.pending[b]++ // a concurrent removal keeps them until we are done
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		for _, b := range blobs {
			if s.pending[b]--; s.pending[b] <= 0 {
				delete(s.pending, b)
			}
		}
		s.mu.Unlock()
	}()
	v1img, err := s.v1Image(rec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	rc := mutate.Extract(v1img)
	defer rc.Close()
	if err := tar2ext4.Convert(rc, tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("building the root disk of %s: %w", rec.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[manifestDigest] == nil {
		return errdefs.NotFoundf("No such image: %s", rec.ID)
	}
	return os.Rename(tmp.Name(), path)
}

package image

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/pier-vm/pier/errdefs"
)

func (s *Service) rootDiskPath(manifestDigest string) string {
	return filepath.Join(s.root, "rootfs", strings.TrimPrefix(manifestDigest, "sha256:")+".ext4")
}

func (s *Service) configFile(rec *record) (*v1.ConfigFile, error) {
	b, err := os.ReadFile(s.blobPath(rec.ID))
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// RootDisk returns the image's read-only ext4 root disk, built once per
// manifest digest: the layers flattened (whiteouts applied) and written by
// tar2ext4, ownership and modes from the tar headers, no host mkfs.
func (s *Service) RootDisk(ctx context.Context, img *Image) (string, error) {
	path := s.rootDiskPath(img.ManifestDigest)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	_, err, _ := s.disks.Do(img.ManifestDigest, func() (any, error) {
		if _, err := os.Stat(path); err == nil {
			return nil, nil
		}
		s.mu.Lock()
		rec := s.images[img.ManifestDigest]
		s.mu.Unlock()
		if rec == nil {
			return nil, errdefs.NotFoundf("No such image: %s", img.ID)
		}
		v1img, err := s.v1Image(rec)
		if err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		rc := mutate.Extract(v1img)
		defer rc.Close()
		if err := tar2ext4.Convert(rc, tmp); err != nil {
			tmp.Close()
			return nil, fmt.Errorf("building the root disk of %s: %w", img.ID, err)
		}
		if err := tmp.Close(); err != nil {
			return nil, err
		}
		return nil, os.Rename(tmp.Name(), path)
	})
	if err != nil {
		return "", err
	}
	return path, ctx.Err()
}

package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/pier-vm/pier/errdefs"
)

var _ API = (*Service)(nil)

// Service is the image store and puller. Layout under its root:
//
//	blobs/sha256/<hex>        manifests, configs and compressed layers
//	images/<manifest hex>.json one record per stored image
//	repositories.json         familiar references -> manifest digest
//	rootfs/<manifest hex>.ext4 root disks, built on first use
type Service struct {
	root     string
	log      *slog.Logger
	insecure []string

	mu     sync.Mutex
	images map[string]*record // by manifest digest
	refs   map[string]string  // familiar tag or digest reference -> manifest digest

	pulls singleflight.Group
	disks singleflight.Group
}

// record is what is persisted for one image.
type record struct {
	ID             string
	ManifestDigest string
	// PulledDigests are the digests users pulled it by (an index's digest).
	PulledDigests []string `json:",omitempty"`
	Platform      string
	MediaType     string
	Size          int64
	Layers        []Layer
}

// Option tunes a Service.
type Option func(*Service) error

// WithInsecureRegistries adds registries (host[:port]) reached over plain
// HTTP. Registries on 127.0.0.0/8 and localhost always are, like Docker.
func WithInsecureRegistries(regs []string) Option {
	return func(s *Service) error {
		for _, r := range regs {
			if strings.TrimSpace(r) == "" || strings.Contains(r, "://") {
				return errdefs.InvalidParameterf("invalid insecure registry %q", r)
			}
		}
		s.insecure = append(s.insecure, regs...)
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) error {
		if l == nil {
			return errors.New("nil logger")
		}
		s.log = l
		return nil
	}
}

// New opens (or creates) the store under root.
func New(root string, opts ...Option) (*Service, error) {
	s := &Service{root: root, log: slog.Default(), images: map[string]*record{}, refs: map[string]string{}}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"blobs/sha256", "images", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) load() error {
	entries, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.root, "images", e.Name()))
		if err != nil {
			return err
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil {
			s.log.Warn("skipping unreadable image record", "file", e.Name(), "err", err)
			continue
		}
		s.images[r.ManifestDigest] = &r
	}
	b, err := os.ReadFile(filepath.Join(s.root, "repositories.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &s.refs); err != nil {
		return fmt.Errorf("reading repositories.json: %w", err)
	}
	return nil
}

// saveRefsLocked persists the reference map; s.mu is held.
func (s *Service) saveRefsLocked() error {
	b, err := json.MarshalIndent(s.refs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.root, "repositories.json"), b)
}

func (s *Service) saveRecordLocked(r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.recordPath(r.ManifestDigest), b)
}

func (s *Service) recordPath(manifestDigest string) string {
	return filepath.Join(s.root, "images", strings.TrimPrefix(manifestDigest, "sha256:")+".json")
}

// writeFileAtomic writes data to a temp file, syncs it and renames it.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

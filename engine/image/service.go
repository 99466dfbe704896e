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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/atomicwriter"
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
//
// Every file is written to a temp file and renamed into place; blobs only
// once their digest and size check out. An image's Size is counted at pull
// (or load) time: each new layer is decompressed once, right after its
// download (Docker's "Extracting" lines), which also checks it against the
// config's diff ID; the per-layer sizes are kept in the image's record.
// All methods are safe for concurrent use.
type Service struct {
	root     string
	log      *slog.Logger
	insecure []string

	mu     sync.Mutex
	images map[string]*record // by manifest digest
	refs   map[string]string  // familiar tag or digest reference -> manifest digest
	// pending counts the blobs that pulls and loads in progress rely on, so
	// that neither a removal nor a failed pull deletes them underneath.
	pending map[string]int

	flightsMu sync.Mutex
	flights   map[string]*flight // pulls in progress, by reference|platform

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
	// Size is the sum of LayerSizes, the uncompressed layer sizes counted
	// once, when the layer is stored (at pull or load).
	Size       int64
	LayerSizes []int64 `json:",omitempty"`
	Layers     []Layer

	cfg *v1.ConfigFile // parsed config, cached in memory
	// healthStartInterval is read from the config with cfg.
	healthStartInterval time.Duration
}

// Option tunes a Service.
type Option func(*Service) error

// WithInsecureRegistries adds registries reached over plain HTTP: each entry
// is a host, a host:port or a CIDR. Default: none besides 127.0.0.0/8 and
// localhost, which are always plain HTTP, like in Docker.
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

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Service) error {
		if l == nil {
			return errors.New("nil logger")
		}
		s.log = l
		return nil
	}
}

// New opens (or creates) the store under root and reloads its state.
func New(root string, opts ...Option) (*Service, error) {
	s := &Service{
		root: root, log: slog.Default(),
		images: map[string]*record{}, refs: map[string]string{},
		pending: map[string]int{}, flights: map[string]*flight{},
	}
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

// load reads the image records and the reference map, removes temp files a
// crash may have left, and drops references to images that are gone.
func (s *Service) load() error {
	for _, dir := range []string{".", "blobs/sha256", "images", "rootfs"} {
		entries, err := os.ReadDir(filepath.Join(s.root, dir))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".load-") {
				os.Remove(filepath.Join(s.root, dir, e.Name()))
			}
		}
	}
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
		if err := json.Unmarshal(b, &r); err != nil || r.ManifestDigest == "" || !s.hasBlob(r.ID) {
			s.log.Warn("skipping unreadable image record", "file", e.Name(), "err", err)
			continue
		}
		s.images[r.ManifestDigest] = &r
	}
	b, err := os.ReadFile(s.refsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &s.refs); err != nil {
		return fmt.Errorf("reading repositories.json: %w", err)
	}
	if s.refs == nil {
		s.refs = map[string]string{}
	}
	for ref, d := range s.refs {
		if s.images[d] == nil {
			s.log.Warn("dropping reference to a missing image", "ref", ref, "manifest", d)
			delete(s.refs, ref)
		}
	}
	return nil
}

func (s *Service) refsPath() string { return filepath.Join(s.root, "repositories.json") }

// saveRefsLocked persists the reference map; s.mu is held.
func (s *Service) saveRefsLocked() error { return writeJSONAtomic(s.refsPath(), s.refs) }

func (s *Service) saveRecordLocked(r *record) error {
	return writeJSONAtomic(s.recordPath(r.ManifestDigest), r)
}

func (s *Service) recordPath(manifestDigest string) string {
	return filepath.Join(s.root, "images", strings.TrimPrefix(manifestDigest, "sha256:")+".json")
}

func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic replaces path with data (temporary file, sync, rename),
// so a crash leaves the old content or the new, never a torn file.
func writeFileAtomic(path string, data []byte) error {
	return atomicwriter.WriteFile(path, data, 0o600)
}

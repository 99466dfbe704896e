// Package volume is pier's local volume driver: a named volume is a
// directory on the host (<root>/<name>/_data) that containers mount over
// virtio-fs, with its metadata in <root>/<name>/volume.json (written
// atomically). It knows nothing of containers: which volumes are in use is
// the engine's business.
package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/docker/docker/pkg/stringid"
	"github.com/pier-vm/pier/internal/atomicfile"

	"github.com/pier-vm/pier/errdefs"
)

// DriverLocal is the only driver.
const DriverLocal = "local"

// Volume is one volume.
type Volume struct {
	Name       string
	Driver     string
	Mountpoint string
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	// Anonymous volumes were created without a name (by a container).
	Anonymous bool
}

// validName is Docker's rule for volume names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidName says whether name may name a volume.
func ValidName(name string) bool { return validName.MatchString(name) }

// Store holds the volumes under one root.
type Store struct {
	root string
	mu   sync.Mutex
	vols map[string]Volume
}

const metaFile = "volume.json"

// Open loads the volumes under root (created if missing).
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	s := &Store{root: root, vols: map[string]Volume{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		atomicfile.SweepTemps(filepath.Join(root, e.Name(), metaFile))
		b, err := os.ReadFile(filepath.Join(root, e.Name(), metaFile))
		if err != nil {
			continue // a half-created or foreign directory
		}
		var v Volume
		if json.Unmarshal(b, &v) == nil && v.Name == e.Name() {
			v.Mountpoint = s.dataDir(v.Name)
			s.vols[v.Name] = v
		}
	}
	return s, nil
}

func (s *Store) dataDir(name string) string { return filepath.Join(s.root, name, "_data") }

// Create makes a volume; an empty name makes an anonymous one. Creating a
// volume that exists returns it, as dockerd does; created says which.
func (s *Store) Create(name string, labels, opts map[string]string) (v Volume, created bool, err error) {
	anonymous := name == ""
	if anonymous {
		name = stringid.GenerateRandomID()
	}
	if !ValidName(name) {
		return Volume{}, false, errdefs.InvalidParameterf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	if len(opts) > 0 {
		return Volume{}, false, errdefs.NotImplemented(fmt.Errorf("create %s: volume options are not supported by pier", name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vols[name]; ok {
		return v, false, nil
	}
	v = Volume{Name: name, Driver: DriverLocal, Mountpoint: s.dataDir(name), CreatedAt: time.Now().UTC().Truncate(time.Second), Labels: labels, Options: opts, Anonymous: anonymous}
	if err := os.MkdirAll(v.Mountpoint, 0o755); err != nil {
		return Volume{}, false, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Volume{}, false, err
	}
	if err := atomicfile.Write(filepath.Join(s.root, name, metaFile), b, 0o600); err != nil {
		os.RemoveAll(filepath.Join(s.root, name))
		return Volume{}, false, err
	}
	s.vols[name] = v
	return v, true, nil
}

// Get returns the volume called name.
func (s *Store) Get(name string) (Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return Volume{}, errNoSuchVolume(name)
	}
	return v, nil
}

func errNoSuchVolume(name string) error {
	return errdefs.NotFoundf("get %s: no such volume", name)
}

// List returns every volume, by name.
func (s *Store) List() []Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Volume, 0, len(s.vols))
	for _, v := range s.vols {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Remove deletes a volume and its data.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.vols[name]; !ok {
		return errNoSuchVolume(name)
	}
	// The metadata goes first: a crash midway leaves a directory Open
	// ignores, never a volume without its data.
	if err := os.Remove(filepath.Join(s.root, name, metaFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	delete(s.vols, name)
	return os.RemoveAll(filepath.Join(s.root, name))
}

// Size is the bytes a volume's files take on the host.
func (s *Store) Size(name string) int64 {
	var n int64
	filepath.Walk(s.dataDir(name), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

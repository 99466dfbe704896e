package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/internal/atomicfile"
)

// configFile is the name of the persisted container in its directory.
const configFile = "config.json"

// Store persists containers, one directory per container under Root.
type Store struct {
	root string
}

// NewStore returns a store rooted at root (created if missing).
func NewStore(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("container store: %w", err)
	}
	return &Store{root: root}, nil
}

// Dir is the container's own directory (its disks, logs and VM state live
// there too).
func (s *Store) Dir(id string) string { return filepath.Join(s.root, id) }

// Save writes c atomically (internal/atomicfile).
func (s *Store) Save(c Container) error {
	dir := s.Dir(c.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, configFile), b, 0o600); err != nil {
		return fmt.Errorf("save container %s: %w", c.ID, err)
	}
	return nil
}

// Delete removes the container's directory and everything in it.
func (s *Store) Delete(id string) error {
	if id == "" {
		return errors.New("delete container: empty id")
	}
	return os.RemoveAll(s.Dir(id))
}

// LoadAll reads every persisted container. Directories without a readable
// config (a create that crashed half-way) are skipped and reported in the
// returned error list, not fatal. Temp files of a Save that a killed
// daemon left half-written are removed (one daemon per data root: no
// Save runs while it loads).
func (s *Store) LoadAll() ([]Container, []error) {
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, []error{err}
	}
	var out []Container
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		atomicfile.SweepTemps(filepath.Join(s.root, e.Name(), configFile))
		b, err := os.ReadFile(filepath.Join(s.root, e.Name(), configFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("load container %s: %w", e.Name(), err))
			continue
		}
		var c Container
		if err := json.Unmarshal(b, &c); err != nil || c.ID != e.Name() {
			errs = append(errs, fmt.Errorf("load container %s: bad config: %v", e.Name(), err))
			continue
		}
		out = append(out, c)
	}
	return out, errs
}

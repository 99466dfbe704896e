package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/pkg/stringid"
	"github.com/pier-vm/pier/internal/atomicfile"
)

// Store persists the networks in one JSON file, rewritten atomically on
// every change.
type Store struct {
	path string

	mu   sync.Mutex
	nets []Network
}

// OpenStore loads path, creating the predefined networks on first use.
func OpenStore(path string) (*Store, error) {
	s := &Store{path: path}
	atomicfile.SweepTemps(path) // a write the previous daemon did not finish
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.nets); err != nil {
			return nil, fmt.Errorf("networks: %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}
	changed := false
	for _, n := range predefined() {
		if _, ok := s.byName(n.Name); !ok {
			s.nets = append(s.nets, n)
			changed = true
		}
	}
	if changed {
		if err := s.saveLocked(s.nets); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func predefined() []Network {
	now := time.Now().UTC()
	return []Network{
		{ID: stringid.GenerateRandomID(), Name: NameBridge, Driver: DriverBridge, Created: now,
			Subnet: DefaultBridgeSubnet, Gateway: DefaultGateway(DefaultBridgeSubnet),
			Options: map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.name":                 "docker0",
				"com.docker.network.driver.mtu":                  "1500",
			}},
		{ID: stringid.GenerateRandomID(), Name: NameHost, Driver: DriverHost, Created: now},
		{ID: stringid.GenerateRandomID(), Name: NameNone, Driver: DriverNull, Created: now},
	}
}

func (s *Store) byName(name string) (Network, bool) {
	for _, n := range s.nets {
		if n.Name == name {
			return n, true
		}
	}
	return Network{}, false
}

func (s *Store) saveLocked(nets []Network) error {
	b, err := json.MarshalIndent(nets, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(s.path, b, 0o600)
}

// All returns every network, predefined first, then by creation.
func (s *Store) All() []Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.nets)
}

// Add persists a new network.
func (s *Store) Add(n Network) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := append(slices.Clone(s.nets), n)
	if err := s.saveLocked(next); err != nil {
		return err
	}
	s.nets = next
	return nil
}

// Delete removes the network with id.
func (s *Store) Delete(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(s.nets), func(n Network) bool { return n.ID == id })
	if err := s.saveLocked(next); err != nil {
		return err
	}
	s.nets = next
	return nil
}

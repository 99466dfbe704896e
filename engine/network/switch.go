package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/engine/vnet"
)

// Switch is a running network's datapath as the engine uses it: plug a
// VM's interface in, publish host ports for a container, release them.
type Switch interface {
	// Attach returns the VM's end of a new connection to the switch (see
	// vnet.Network.Attach).
	Attach(datagram bool) (*os.File, error)
	// Publish binds host ("tcp" or "udp", "ip:port"; port 0 picks one) for
	// owner (a container ID) and forwards it to target; it returns the
	// address bound. A port in use is an error that is syscall.EADDRINUSE.
	Publish(owner, proto, host string, target netip.AddrPort) (netip.AddrPort, error)
	// Publications lists owner's publications (every owner's for "").
	Publications(owner string) ([]Publication, error)
	// Release closes owner's publications.
	Release(owner string) error
}

// Publication is a host port published for an owner.
type Publication struct {
	Owner  string
	Proto  string
	Host   netip.AddrPort
	Target netip.AddrPort
}

// datapath is a Switch the Registry runs: it pushes the names the
// network's DNS server answers and the subnets its gateway must not
// forward to, and ends it. Two kinds: in pierd (localSwitch) and in a
// helper process (helperSwitch).
type datapath interface {
	Switch
	setNames(*vnet.Names) error
	setBlocked([]netip.Prefix) error
	// alive says whether the datapath still serves.
	alive() bool
	// stop ends the datapath.
	stop() error
	// leave lets go of the datapath, leaving it running where it can
	// outlive pierd (a helper); an in-process one ends.
	leave() error
}

// localSwitch is a network's datapath inside pierd: it ends with pierd.
type localSwitch struct {
	net     *vnet.Network
	names   atomic.Pointer[vnet.Names]
	blocked atomic.Pointer[[]netip.Prefix]

	mu   sync.Mutex
	pubs map[string][]localPublication
}

type localPublication struct {
	Publication
	pub *vnet.Publication
}

var _ datapath = (*localSwitch)(nil)

// startLocal starts cfg's network in this process (cfg's Resolve and
// Blocked are the switch's pushed tables).
func startLocal(cfg vnet.Config) (*localSwitch, error) {
	s := &localSwitch{pubs: map[string][]localPublication{}}
	s.names.Store(&vnet.Names{})
	s.blocked.Store(&[]netip.Prefix{})
	cfg.Resolve = func(src netip.Addr, name string) ([]netip.Addr, bool) { return s.names.Load().Lookup(src, name) }
	cfg.Blocked = func(a netip.Addr) bool {
		return slices.ContainsFunc(*s.blocked.Load(), func(p netip.Prefix) bool { return p.Contains(a) })
	}
	n, err := vnet.New(cfg)
	if err != nil {
		return nil, err
	}
	s.net = n
	return s, nil
}

func (s *localSwitch) Attach(datagram bool) (*os.File, error) { return s.net.Attach(datagram) }

func (s *localSwitch) Publish(owner, proto, host string, target netip.AddrPort) (netip.AddrPort, error) {
	if owner == "" {
		return netip.AddrPort{}, errors.New("publish: an owner is required")
	}
	p, err := s.net.Publish(proto, host, target)
	if err != nil {
		return netip.AddrPort{}, err
	}
	s.mu.Lock()
	s.pubs[owner] = append(s.pubs[owner], localPublication{Publication{Owner: owner, Proto: proto, Host: p.Host, Target: target}, p})
	s.mu.Unlock()
	return p.Host, nil
}

func (s *localSwitch) Publications(owner string) ([]Publication, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Publication
	for o, ps := range s.pubs {
		if owner != "" && o != owner {
			continue
		}
		for _, p := range ps {
			out = append(out, p.Publication)
		}
	}
	slices.SortStableFunc(out, func(a, b Publication) int { return strings.Compare(a.Owner, b.Owner) })
	return out, nil
}

func (s *localSwitch) Release(owner string) error {
	s.mu.Lock()
	ps := s.pubs[owner]
	delete(s.pubs, owner)
	s.mu.Unlock()
	var errs []error
	for _, p := range ps {
		if err := p.pub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s %s: %w", p.Proto, p.Host, err))
		}
	}
	return errors.Join(errs...)
}

func (s *localSwitch) setNames(names *vnet.Names) error {
	s.names.Store(names)
	return nil
}

func (s *localSwitch) setBlocked(prefixes []netip.Prefix) error {
	s.blocked.Store(&prefixes)
	return nil
}

func (s *localSwitch) alive() bool { return true }

func (s *localSwitch) stop() error {
	s.mu.Lock()
	owners := make([]string, 0, len(s.pubs))
	for o := range s.pubs {
		owners = append(owners, o)
	}
	s.mu.Unlock()
	for _, o := range owners {
		_ = s.Release(o)
	}
	return s.net.Close()
}

func (s *localSwitch) leave() error { return s.stop() }

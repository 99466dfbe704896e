package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/errdefs"
)

// HostDockerInternal is the name containers reach the host by.
const HostDockerInternal = "host.docker.internal"

// Registry owns the Docker networks: their store, their running virtual
// switches (engine/vnet, started on first use) and the endpoints of the
// running containers, which the switches' DNS servers answer from.
type Registry struct {
	store *Store

	mu   sync.RWMutex
	byID map[string]*netState
	// subnets of every switched network, read by the switches' packet
	// filters without taking mu.
	subnets atomic.Pointer[[]netip.Prefix]
}

// netState is one network and what runs for it.
type netState struct {
	n   Network
	sw  *vnet.Network // nil until a container attaches
	eps map[string]*ActiveEndpoint
}

// ActiveEndpoint is a running container's address on a network.
type ActiveEndpoint struct {
	EndpointID string
	Names      []string // lower-case DNS names
	Addr       netip.Addr
}

// Open loads the networks stored at path (creating the predefined ones on
// first use); no switch runs until a container attaches.
func Open(path string) (*Registry, error) {
	store, err := OpenStore(path)
	if err != nil {
		return nil, err
	}
	ns := &Registry{store: store, byID: map[string]*netState{}}
	for _, n := range store.All() {
		ns.byID[n.ID] = &netState{n: n, eps: map[string]*ActiveEndpoint{}}
	}
	ns.refreshSubnets()
	return ns, nil
}

// refreshSubnets republishes the switched networks' subnets; mu is held or
// the value is being built.
func (ns *Registry) refreshSubnets() {
	var out []netip.Prefix
	for _, st := range ns.byID {
		if st.n.Subnet.IsValid() {
			out = append(out, st.n.Subnet)
		}
	}
	ns.subnets.Store(&out)
}

// blocked says whether a is inside one of pier's networks: a gateway never
// forwards there, so networks stay isolated from each other.
func (ns *Registry) blocked(a netip.Addr) bool {
	for _, p := range *ns.subnets.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Find looks a network up by full ID, name, then unique ID prefix, as
// dockerd does.
func (ns *Registry) Find(ref string) (Network, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	st, err := ns.findLocked(ref)
	if err != nil {
		return Network{}, err
	}
	return st.n, nil
}

func (ns *Registry) findLocked(ref string) (*netState, error) {
	if st, ok := ns.byID[ref]; ok {
		return st, nil
	}
	for _, st := range ns.byID {
		if st.n.Name == ref {
			return st, nil
		}
	}
	var match *netState
	if ref != "" {
		for id, st := range ns.byID {
			if strings.HasPrefix(id, ref) {
				if match != nil {
					return nil, errNetworkAmbiguous(ref)
				}
				match = st
			}
		}
	}
	if match == nil {
		return nil, errNoSuchNetwork(ref)
	}
	return match, nil
}

// SwitchFor returns the running switch of network id, starting it.
func (ns *Registry) SwitchFor(id string) (*vnet.Network, Network, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	st, ok := ns.byID[id]
	if !ok {
		return nil, Network{}, errNoSuchNetwork(id)
	}
	if st.sw == nil {
		cfg := vnet.Config{
			Subnet:   st.n.Subnet,
			Gateway:  st.n.Gateway,
			Internal: st.n.Internal,
			Blocked:  ns.blocked,
			Resolve:  func(src netip.Addr, name string) ([]netip.Addr, bool) { return ns.resolve(id, src, name) },
		}
		if !st.n.Internal {
			// The gateway doubles as the host: host.docker.internal and
			// host-gateway lead to the host's loopback through it.
			cfg.HostAlias = st.n.Gateway
		}
		sw, err := vnet.New(cfg)
		if err != nil {
			return nil, Network{}, fmt.Errorf("starting the virtual network %s: %w", st.n.Name, err)
		}
		st.sw = sw
	}
	return st.sw, st.n, nil
}

// resolve answers a DNS question asked on network id from src: names of
// the containers on that network (not on the default bridge, as in
// Docker), then names on the asking container's other networks, then
// host.docker.internal.
func (ns *Registry) resolve(id string, src netip.Addr, name string) ([]netip.Addr, bool) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	st, ok := ns.byID[id]
	if !ok {
		return nil, false
	}
	if addrs := st.lookup(name); len(addrs) > 0 {
		return addrs, true
	}
	// The asking container's other networks.
	var asker string
	for cid, ep := range st.eps {
		if ep.Addr == src {
			asker = cid
		}
	}
	if asker != "" {
		for oid, other := range ns.byID {
			if oid == id || other.eps[asker] == nil {
				continue
			}
			if addrs := other.lookup(name); len(addrs) > 0 {
				return addrs, true
			}
		}
	}
	if name == HostDockerInternal && !st.n.Internal {
		return []netip.Addr{st.n.Gateway}, true
	}
	return nil, false
}

// lookup finds name among a network's endpoints (never on the default
// bridge, where Docker offers no name resolution).
func (st *netState) lookup(name string) []netip.Addr {
	if st.n.Name == NameBridge {
		return nil
	}
	var out []netip.Addr
	for _, ep := range st.eps {
		if slices.Contains(ep.Names, name) {
			out = append(out, ep.Addr)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// inUse lists the addresses taken on a network; mu is held.
func (st *netState) inUse() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, ep := range st.eps {
		m[ep.Addr] = true
	}
	return m
}

// Allocate reserves an address for a container on network id (the wanted
// one, or the lowest free) and registers its DNS names.
func (ns *Registry) Allocate(id, containerID, want string, names []string) (netip.Addr, string, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	st, ok := ns.byID[id]
	if !ok {
		return netip.Addr{}, "", errNoSuchNetwork(id)
	}
	if old := st.eps[containerID]; old != nil {
		return netip.Addr{}, "", fmt.Errorf("container %s already has an endpoint on network %s", containerID, st.n.Name)
	}
	var a netip.Addr
	var err error
	if want != "" {
		a, err = CheckAddress(st.n.Subnet, st.n.Gateway, want, st.inUse())
	} else {
		a, err = NextAddress(st.n.Subnet, st.n.Gateway, st.inUse())
	}
	if err != nil {
		return netip.Addr{}, "", err
	}
	epID := newEndpointID()
	lower := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" {
			lower = append(lower, strings.ToLower(n))
		}
	}
	st.eps[containerID] = &ActiveEndpoint{EndpointID: epID, Names: lower, Addr: a}
	return a, epID, nil
}

// Release forgets a container's endpoints on every network.
func (ns *Registry) Release(containerID string) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, st := range ns.byID {
		delete(st.eps, containerID)
	}
}

// Endpoints is a snapshot of a network's active endpoints.
func (ns *Registry) Endpoints(id string) map[string]ActiveEndpoint {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := map[string]ActiveEndpoint{}
	if st, ok := ns.byID[id]; ok {
		for cid, ep := range st.eps {
			out[cid] = *ep
		}
	}
	return out
}

// All is a snapshot of every network, predefined first, in creation order.
func (ns *Registry) All() []Network {
	return ns.store.All()
}

// Add persists and registers a new network: its name must be free, and
// its subnet, when set, must overlap no other network's; when unset, the
// first free pool subnet is taken (with its default gateway). All of it
// under mu, so concurrent creates cannot pick the same name or subnet.
func (ns *Registry) Add(n Network) (Network, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, st := range ns.byID {
		if st.n.Name == n.Name {
			return n, errNetworkExists(n.Name)
		}
	}
	used := *ns.subnets.Load()
	switch {
	case !n.Subnet.IsValid():
		subnet, err := NextSubnet(used)
		if err != nil {
			return n, errdefs.Forbidden(err)
		}
		n.Subnet, n.Gateway = subnet, DefaultGateway(subnet)
	case Overlaps(n.Subnet, used):
		return n, errdefs.Forbidden(errors.New("Pool overlaps with other one on this address space"))
	}
	if err := ns.store.Add(n); err != nil {
		return n, err
	}
	ns.byID[n.ID] = &netState{n: n, eps: map[string]*ActiveEndpoint{}}
	ns.refreshSubnets()
	return n, nil
}

// Remove deletes a network that has no active endpoint.
func (ns *Registry) Remove(id string) error {
	ns.mu.Lock()
	st, ok := ns.byID[id]
	if !ok {
		ns.mu.Unlock()
		return errNoSuchNetwork(id)
	}
	if len(st.eps) > 0 {
		ns.mu.Unlock()
		return errNetworkInUse(st.n)
	}
	if err := ns.store.Delete(id); err != nil {
		ns.mu.Unlock()
		return err
	}
	delete(ns.byID, id)
	ns.refreshSubnets()
	sw := st.sw
	ns.mu.Unlock()
	if sw != nil {
		_ = sw.Close()
	}
	return nil
}

// Close stops every running switch.
func (ns *Registry) Close() {
	ns.mu.Lock()
	var sws []*vnet.Network
	for _, st := range ns.byID {
		if st.sw != nil {
			sws = append(sws, st.sw)
			st.sw = nil
		}
	}
	ns.mu.Unlock()
	for _, sw := range sws {
		_ = sw.Close()
	}
}

package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/errdefs"
)

// hostDockerInternal is the name containers reach the host by.
const hostDockerInternal = "host.docker.internal"

// networks owns the Docker networks: their store, their running virtual
// switches (engine/vnet, started on first use) and the endpoints of the
// running containers, which the switches' DNS servers answer from.
type networks struct {
	store *network.Store

	mu   sync.RWMutex
	byID map[string]*netState
	// subnets of every switched network, read by the switches' packet
	// filters without taking mu.
	subnets atomic.Pointer[[]netip.Prefix]
}

// netState is one network and what runs for it.
type netState struct {
	n   network.Network
	sw  *vnet.Network // nil until a container attaches
	eps map[string]*activeEndpoint
}

// activeEndpoint is a running container's address on a network.
type activeEndpoint struct {
	endpointID string
	names      []string // lower-case DNS names
	addr       netip.Addr
}

func newNetworks(path string) (*networks, error) {
	store, err := network.OpenStore(path)
	if err != nil {
		return nil, err
	}
	ns := &networks{store: store, byID: map[string]*netState{}}
	for _, n := range store.All() {
		ns.byID[n.ID] = &netState{n: n, eps: map[string]*activeEndpoint{}}
	}
	ns.refreshSubnets()
	return ns, nil
}

// refreshSubnets republishes the switched networks' subnets; mu is held or
// the value is being built.
func (ns *networks) refreshSubnets() {
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
func (ns *networks) blocked(a netip.Addr) bool {
	for _, p := range *ns.subnets.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// find looks a network up by full ID, name, then unique ID prefix, as
// dockerd does.
func (ns *networks) find(ref string) (network.Network, error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	st, err := ns.findLocked(ref)
	if err != nil {
		return network.Network{}, err
	}
	return st.n, nil
}

func (ns *networks) findLocked(ref string) (*netState, error) {
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

// switchFor returns the running switch of network id, starting it.
func (ns *networks) switchFor(id string) (*vnet.Network, network.Network, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	st, ok := ns.byID[id]
	if !ok {
		return nil, network.Network{}, errNoSuchNetwork(id)
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
			return nil, network.Network{}, fmt.Errorf("starting the virtual network %s: %w", st.n.Name, err)
		}
		st.sw = sw
	}
	return st.sw, st.n, nil
}

// resolve answers a DNS question asked on network id from src: names of
// the containers on that network (not on the default bridge, as in
// Docker), then names on the asking container's other networks, then
// host.docker.internal.
func (ns *networks) resolve(id string, src netip.Addr, name string) ([]netip.Addr, bool) {
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
		if ep.addr == src {
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
	if name == hostDockerInternal && !st.n.Internal {
		return []netip.Addr{st.n.Gateway}, true
	}
	return nil, false
}

// lookup finds name among a network's endpoints (never on the default
// bridge, where Docker offers no name resolution).
func (st *netState) lookup(name string) []netip.Addr {
	if st.n.Name == network.NameBridge {
		return nil
	}
	var out []netip.Addr
	for _, ep := range st.eps {
		if slices.Contains(ep.names, name) {
			out = append(out, ep.addr)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// inUse lists the addresses taken on a network; mu is held.
func (st *netState) inUse() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, ep := range st.eps {
		m[ep.addr] = true
	}
	return m
}

// allocate reserves an address for a container on network id (the wanted
// one, or the lowest free) and registers its DNS names.
func (ns *networks) allocate(id, containerID, want string, names []string) (netip.Addr, string, error) {
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
		a, err = network.CheckAddress(st.n.Subnet, st.n.Gateway, want, st.inUse())
	} else {
		a, err = network.NextAddress(st.n.Subnet, st.n.Gateway, st.inUse())
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
	st.eps[containerID] = &activeEndpoint{endpointID: epID, names: lower, addr: a}
	return a, epID, nil
}

// release forgets a container's endpoints on every network.
func (ns *networks) release(containerID string) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for _, st := range ns.byID {
		delete(st.eps, containerID)
	}
}

// endpoints is a snapshot of a network's active endpoints.
func (ns *networks) endpoints(id string) map[string]activeEndpoint {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	out := map[string]activeEndpoint{}
	if st, ok := ns.byID[id]; ok {
		for cid, ep := range st.eps {
			out[cid] = *ep
		}
	}
	return out
}

// all is a snapshot of every network, predefined first, in creation order.
func (ns *networks) all() []network.Network {
	return ns.store.All()
}

// add persists and registers a new network: its name must be free, and
// its subnet, when set, must overlap no other network's; when unset, the
// first free pool subnet is taken (with its default gateway). All of it
// under mu, so concurrent creates cannot pick the same name or subnet.
func (ns *networks) add(n network.Network) (network.Network, error) {
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
		subnet, err := network.NextSubnet(used)
		if err != nil {
			return n, errdefs.Forbidden(err)
		}
		n.Subnet, n.Gateway = subnet, network.DefaultGateway(subnet)
	case network.Overlaps(n.Subnet, used):
		return n, errdefs.Forbidden(errors.New("Pool overlaps with other one on this address space"))
	}
	if err := ns.store.Add(n); err != nil {
		return n, err
	}
	ns.byID[n.ID] = &netState{n: n, eps: map[string]*activeEndpoint{}}
	ns.refreshSubnets()
	return n, nil
}

// remove deletes a network that has no active endpoint.
func (ns *networks) remove(id string) error {
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

// close stops every running switch.
func (ns *networks) close() {
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

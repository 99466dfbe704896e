package network

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/errdefs"
)

// HostDockerInternal is the name containers reach the host by.
const HostDockerInternal = "host.docker.internal"

// Registry owns the Docker networks: their store, their running
// datapaths (a switch, gateway and DNS server each, started on first use:
// in pierd by default, or in helper processes that outlive it, see
// WithHelpers) and the endpoints of the running containers, whose names
// it pushes to the datapaths' DNS servers.
type Registry struct {
	store   *Store
	log     *slog.Logger
	helpers *helpers // nil: datapaths run in this process

	mu   sync.RWMutex
	byID map[string]*netState
	// subnets of every switched network.
	subnets atomic.Pointer[[]netip.Prefix]

	// pushMu serialises pushes, so a later state is never overtaken by
	// an earlier one; pushed is what each datapath was last sent.
	pushMu sync.Mutex
	pushed map[datapath]pushedTables
}

// pushedTables is what a datapath was last told.
type pushedTables struct {
	names   *vnet.Names
	blocked []netip.Prefix
}

// netState is one network and what runs for it.
type netState struct {
	n   Network
	sw  datapath // nil until a container attaches
	eps map[string]*ActiveEndpoint
}

// ActiveEndpoint is a running container's address on a network.
type ActiveEndpoint struct {
	EndpointID string
	Names      []string // lower-case DNS names
	Addr       netip.Addr
}

// Option configures a Registry.
type Option func(*Registry) error

// WithHelpers runs each network's datapath in a helper process of its own
// (engine/vnet/netd), started as command followed by --dir DIR, where DIR
// is dir/<network ID>. Helpers outlive pierd; Open reconnects to those
// still running. Default: datapaths run in this process.
func WithHelpers(dir string, command ...string) Option {
	return func(ns *Registry) error {
		if dir == "" || len(command) == 0 || command[0] == "" {
			return errors.New("network helpers: a directory and a command are required")
		}
		ns.helpers = &helpers{dir: dir, command: slices.Clone(command)}
		return nil
	}
}

// WithLogger sets the logger for what goes wrong with datapaths (default
// slog.Default()).
func WithLogger(log *slog.Logger) Option {
	return func(ns *Registry) error {
		if log == nil {
			return errors.New("network registry: nil logger")
		}
		ns.log = log
		return nil
	}
}

// Open loads the networks stored at path (creating the predefined ones on
// first use). No datapath starts until a container attaches; with
// WithHelpers, the helpers of a previous pierd that still run are
// reconnected (see StopIdle).
func Open(path string, opts ...Option) (*Registry, error) {
	ns := &Registry{byID: map[string]*netState{}, log: slog.Default(), pushed: map[datapath]pushedTables{}}
	for _, o := range opts {
		if err := o(ns); err != nil {
			return nil, err
		}
	}
	store, err := OpenStore(path)
	if err != nil {
		return nil, err
	}
	ns.store = store
	for _, n := range store.All() {
		ns.byID[n.ID] = &netState{n: n, eps: map[string]*ActiveEndpoint{}}
	}
	ns.refreshSubnets()
	if ns.helpers != nil {
		ns.reconnect()
	}
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
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	ns.subnets.Store(&out)
}

// blockedFor is what the gateway of st must not forward to: every other
// network's subnet, so networks stay isolated from each other; mu is held.
func (ns *Registry) blockedFor(st *netState) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range *ns.subnets.Load() {
		if p != st.n.Subnet {
			out = append(out, p)
		}
	}
	return out
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

// SwitchFor returns the running switch of network id, starting it (or,
// with helpers, restarting a helper that died).
func (ns *Registry) SwitchFor(id string) (Switch, Network, error) {
	ns.mu.Lock()
	st, ok := ns.byID[id]
	if !ok {
		ns.mu.Unlock()
		return nil, Network{}, errNoSuchNetwork(id)
	}
	if st.sw != nil && !st.sw.alive() {
		ns.log.Warn("the datapath of a network stopped; starting it again", "network", st.n.Name)
		st.sw = nil
	}
	started := false
	if st.sw == nil {
		sw, err := ns.startDatapath(st.n)
		if err != nil {
			ns.mu.Unlock()
			return nil, Network{}, fmt.Errorf("starting the virtual network %s: %w", st.n.Name, err)
		}
		st.sw, started = sw, true
	}
	sw, n := st.sw, st.n
	ns.mu.Unlock()
	if started {
		ns.push()
	}
	return sw, n, nil
}

// startDatapath starts n's datapath, in a helper or in this process.
func (ns *Registry) startDatapath(n Network) (datapath, error) {
	if ns.helpers != nil {
		return ns.helpers.start(n)
	}
	return startLocal(localConfig(n))
}

// names is the table network id's DNS server answers from (nil for an
// unknown network).
func (ns *Registry) names(id string) *vnet.Names {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	st, ok := ns.byID[id]
	if !ok {
		return nil
	}
	return ns.namesFor(st)
}

// namesFor is st's DNS table, as Docker resolves: names of the containers
// on the network (not on the default bridge), then, for an asking
// container, names on its other networks, then host.docker.internal; mu
// is held.
func (ns *Registry) namesFor(st *netState) *vnet.Names {
	t := &vnet.Names{Local: st.names()}
	ids := slices.Sorted(maps.Keys(ns.byID))
	for cid, ep := range st.eps {
		var other map[string][]netip.Addr
		for _, oid := range ids {
			o := ns.byID[oid]
			if o == st || o.eps[cid] == nil {
				continue
			}
			for name, addrs := range o.names() {
				if _, seen := other[name]; !seen {
					if other == nil {
						other = map[string][]netip.Addr{}
					}
					other[name] = addrs
				}
			}
		}
		if other != nil {
			if t.BySource == nil {
				t.BySource = map[netip.Addr]map[string][]netip.Addr{}
			}
			t.BySource[ep.Addr] = other
		}
	}
	if !st.n.Internal {
		t.Fallback = map[string][]netip.Addr{HostDockerInternal: {st.n.Gateway}}
	}
	return t
}

// names maps a network's endpoint names to their addresses (nil on the
// default bridge, where Docker offers no name resolution).
func (st *netState) names() map[string][]netip.Addr {
	if st.n.Name == NameBridge {
		return nil
	}
	var out map[string][]netip.Addr
	for _, ep := range st.eps {
		for _, name := range ep.Names {
			if out == nil {
				out = map[string][]netip.Addr{}
			}
			if !slices.Contains(out[name], ep.Addr) {
				out[name] = append(out[name], ep.Addr)
			}
		}
	}
	for _, addrs := range out {
		slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	}
	return out
}

// push sends every running datapath the names and blocked subnets it
// should have, when they changed since its last push. Failures are
// logged: the datapath keeps its previous tables.
func (ns *Registry) push() {
	ns.pushMu.Lock()
	defer ns.pushMu.Unlock()
	type work struct {
		name string
		sw   datapath
		t    pushedTables
	}
	var todo []work
	ns.mu.RLock()
	for _, st := range ns.byID {
		if st.sw != nil {
			todo = append(todo, work{st.n.Name, st.sw, pushedTables{ns.namesFor(st), ns.blockedFor(st)}})
		}
	}
	ns.mu.RUnlock()
	live := map[datapath]bool{}
	for _, w := range todo {
		live[w.sw] = true
		last, ok := ns.pushed[w.sw]
		if !ok || !reflect.DeepEqual(last.names, w.t.names) {
			if err := w.sw.setNames(w.t.names); err != nil {
				ns.log.Warn("pushing DNS names to a network's datapath", "network", w.name, "err", err)
				continue
			}
		}
		if !ok || !slices.Equal(last.blocked, w.t.blocked) {
			if err := w.sw.setBlocked(w.t.blocked); err != nil {
				ns.log.Warn("pushing blocked subnets to a network's datapath", "network", w.name, "err", err)
				continue
			}
		}
		ns.pushed[w.sw] = w.t
	}
	for sw := range ns.pushed {
		if !live[sw] {
			delete(ns.pushed, sw)
		}
	}
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
	a, epID, err := ns.allocate(id, containerID, want, names)
	if err == nil {
		ns.push()
	}
	return a, epID, err
}

func (ns *Registry) allocate(id, containerID, want string, names []string) (netip.Addr, string, error) {
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
	for _, st := range ns.byID {
		delete(st.eps, containerID)
	}
	ns.mu.Unlock()
	ns.push()
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
	n, err := ns.add(n)
	if err == nil {
		ns.push()
	}
	return n, err
}

func (ns *Registry) add(n Network) (Network, error) {
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

// Remove deletes a network that has no active endpoint, and stops its
// datapath.
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
	st.sw = nil
	ns.mu.Unlock()
	if sw != nil {
		if err := sw.stop(); err != nil {
			ns.log.Warn("stopping the datapath of a removed network", "network", st.n.Name, "err", err)
		}
	}
	if ns.helpers != nil {
		_ = os.RemoveAll(ns.helpers.dirOf(id))
	}
	ns.push()
	return nil
}

// StopIdle stops the datapaths of networks without endpoints, and
// releases the published ports of containers that have no endpoint on
// any network. A restarted pierd calls it once it has taken the running
// containers back (their endpoints allocated again): what a previous
// pierd's helpers still hold for containers that did not come back goes.
func (ns *Registry) StopIdle() {
	ns.mu.Lock()
	var idle []*netState
	var busy []datapath
	owners := map[string]bool{}
	for _, st := range ns.byID {
		for cid := range st.eps {
			owners[cid] = true
		}
		switch {
		case st.sw == nil:
		case len(st.eps) == 0:
			idle = append(idle, &netState{n: st.n, sw: st.sw})
			st.sw = nil
		default:
			busy = append(busy, st.sw)
		}
	}
	ns.mu.Unlock()
	for _, st := range idle {
		if err := st.sw.stop(); err != nil {
			ns.log.Warn("stopping the datapath of an idle network", "network", st.n.Name, "err", err)
		}
	}
	for _, sw := range busy {
		pubs, err := sw.Publications("")
		if err != nil {
			ns.log.Warn("listing a network's published ports", "err", err)
			continue
		}
		for _, p := range pubs {
			if !owners[p.Owner] {
				owners[p.Owner] = true // released once
				if err := sw.Release(p.Owner); err != nil {
					ns.log.Warn("releasing the published ports of a container that is gone", "container", p.Owner, "err", err)
				}
			}
		}
	}
	ns.push()
}

// Close stops every running datapath, helpers included.
func (ns *Registry) Close() { ns.closeAll(false) }

// Disconnect lets go of the datapaths of networks with endpoints but
// leaves their helpers running (a daemon shutdown that keeps its
// containers running, live restore); the other datapaths stop, and so do
// in-process ones, which cannot outlive pierd.
func (ns *Registry) Disconnect() { ns.closeAll(true) }

func (ns *Registry) closeAll(leaveBusy bool) {
	ns.mu.Lock()
	var sws []datapath
	leave := map[datapath]bool{}
	for _, st := range ns.byID {
		if st.sw != nil {
			sws = append(sws, st.sw)
			leave[st.sw] = leaveBusy && len(st.eps) > 0
			st.sw = nil
		}
	}
	ns.mu.Unlock()
	var wg sync.WaitGroup
	for _, sw := range sws {
		wg.Go(func() {
			end := sw.stop
			if leave[sw] {
				end = sw.leave
			}
			if err := end(); err != nil {
				ns.log.Warn("closing a network's datapath", "err", err)
			}
		})
	}
	wg.Wait()
	ns.pushMu.Lock()
	clear(ns.pushed)
	ns.pushMu.Unlock()
}

package engine

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/docker/docker/pkg/stringid"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/errdefs"
)

// NetworkCreateRequest is `docker network create`.
type NetworkCreateRequest struct {
	Name       string
	Driver     string
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Labels     map[string]string
	Options    map[string]string
	// IPAM holds at most one IPv4 pool (Subnet, optional Gateway).
	IPAM        []IPAMPool
	IPAMOptions map[string]string
}

// IPAMPool is one address pool of a create request.
type IPAMPool struct {
	Subnet  string
	Gateway string
	IPRange string
}

// NetworkEndpoint is a running container's endpoint as network inspect
// shows it.
type NetworkEndpoint struct {
	ContainerID string
	Name        string
	EndpointID  string
	MacAddress  string
	// IPv4Address is "ip/prefix".
	IPv4Address string
}

// NetworkInfo is a network with its running endpoints.
type NetworkInfo struct {
	network.Network
	Containers map[string]NetworkEndpoint
}

// NetworkCreate creates a bridge network.
func (s *Containers) NetworkCreate(ctx context.Context, req NetworkCreateRequest) (network.Network, error) {
	if req.Name == "" {
		return network.Network{}, errdefs.InvalidParameterf("network name cannot be empty")
	}
	if !validNetworkName(req.Name) {
		return network.Network{}, errdefs.InvalidParameterf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name)
	}
	switch req.Driver {
	case "", network.DriverBridge:
	case network.DriverHost, network.DriverNull:
		return network.Network{}, errdefs.Forbidden(fmt.Errorf("only one instance of %q network is allowed", req.Driver))
	default:
		return network.Network{}, errdefs.NotFoundf("plugin %q not found", req.Driver)
	}
	if req.EnableIPv6 {
		return network.Network{}, errdefs.NotImplemented(fmt.Errorf("IPv6 networks are not supported by pier yet"))
	}
	if len(req.IPAM) > 1 {
		return network.Network{}, errdefs.NotImplemented(fmt.Errorf("pier supports one IPv4 pool per network"))
	}
	// A user subnet is checked here; the name, the overlap and the choice
	// of a free subnet are the store's, under its lock (concurrent creates).
	var subnet netip.Prefix
	var gateway netip.Addr
	if len(req.IPAM) == 1 && req.IPAM[0].Subnet != "" {
		var err error
		if subnet, gateway, err = network.ParseSubnet(req.IPAM[0].Subnet, req.IPAM[0].Gateway); err != nil {
			return network.Network{}, errdefs.InvalidParameter(err)
		}
	} else if len(req.IPAM) == 1 && req.IPAM[0].Gateway != "" {
		return network.Network{}, errdefs.InvalidParameterf("a gateway needs a subnet")
	}
	n := network.Network{
		ID:          stringid.GenerateRandomID(),
		Name:        req.Name,
		Driver:      network.DriverBridge,
		Created:     time.Now().UTC(),
		Internal:    req.Internal,
		Attachable:  req.Attachable,
		Labels:      maps.Clone(req.Labels),
		Options:     maps.Clone(req.Options),
		IPAMOptions: maps.Clone(req.IPAMOptions),
		Subnet:      subnet,
		Gateway:     gateway,
	}
	n, err := s.nets.Add(n)
	if err != nil {
		return network.Network{}, err
	}
	s.publishNetwork(n, "create", nil)
	s.syncHostGateways()
	return n, nil
}

func validNetworkName(name string) bool {
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i > 0 {
			ok = ok || r == '_' || r == '.' || r == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// NetworkInspect finds a network by ID, name or ID prefix.
func (s *Containers) NetworkInspect(ref string) (NetworkInfo, error) {
	n, err := s.nets.Find(ref)
	if err != nil {
		return NetworkInfo{}, err
	}
	return s.networkInfo(n), nil
}

func (s *Containers) networkInfo(n network.Network) NetworkInfo {
	info := NetworkInfo{Network: n, Containers: map[string]NetworkEndpoint{}}
	for cid, ep := range s.nets.Endpoints(n.ID) {
		x, err := s.get(cid)
		if err != nil {
			continue
		}
		c := x.snapshot()
		e := NetworkEndpoint{ContainerID: cid, Name: trimSlash(c.Name), EndpointID: ep.EndpointID}
		if ce := c.Networks[n.Name]; ce != nil {
			e.MacAddress = ce.MacAddress
		}
		if n.Subnet.IsValid() {
			e.IPv4Address = netip.PrefixFrom(ep.Addr, n.Subnet.Bits()).String()
		}
		info.Containers[cid] = e
	}
	return info
}

// NetworkList returns every network (filters apply in compat).
func (s *Containers) NetworkList() []NetworkInfo {
	all := s.nets.All()
	out := make([]NetworkInfo, 0, len(all))
	for _, n := range all {
		out = append(out, s.networkInfo(n))
	}
	return out
}

// NetworkRemove deletes a network no running container uses.
func (s *Containers) NetworkRemove(ctx context.Context, ref string) error {
	n, err := s.nets.Find(ref)
	if err != nil {
		return err
	}
	if n.Predefined() {
		return network.ErrPredefined(n.Name)
	}
	if eps := s.nets.Endpoints(n.ID); len(eps) > 0 {
		var names []string
		for cid, ep := range eps {
			name := cid[:12]
			if x, err := s.get(cid); err == nil {
				name = trimSlash(x.snapshot().Name)
			}
			names = append(names, fmt.Sprintf("name:%q id:%q", name, ep.EndpointID[:12]))
		}
		slices.Sort(names)
		return network.ErrInUseBy(n, names)
	}
	if err := s.nets.Remove(n.ID); err != nil {
		return err
	}
	s.publishNetwork(n, "destroy", nil)
	s.syncHostGateways()
	return nil
}

// NetworkPrune removes the user-defined networks no container refers to
// and whose labels match (all when match is nil).
func (s *Containers) NetworkPrune(ctx context.Context, match func(network.Network) bool) ([]string, error) {
	referenced := map[string]bool{}
	for _, x := range s.all() {
		for _, ep := range x.snapshot().Networks {
			referenced[ep.NetworkID] = true
		}
	}
	var removed []string
	for _, n := range s.nets.All() {
		if n.Predefined() || referenced[n.ID] || (match != nil && !match(n)) {
			continue
		}
		if err := s.nets.Remove(n.ID); err != nil {
			if errdefs.IsForbidden(err) {
				continue
			}
			return removed, err
		}
		s.publishNetwork(n, "destroy", nil)
		removed = append(removed, n.Name)
	}
	if len(removed) > 0 {
		s.syncHostGateways()
	}
	return removed, nil
}

// NetworkConnect connects a container that is not running to a network;
// the interface appears at its next start. A running container's VM cannot
// take a new network card, which is refused with a clear error.
func (s *Containers) NetworkConnect(ctx context.Context, netRef, ctrRef string, req *container.Endpoint) error {
	n, x, unlock, err := s.lockForNetworkChange(netRef, ctrRef)
	if err != nil {
		return err
	}
	defer unlock()
	if x.run != nil {
		return errdefs.NotImplemented(fmt.Errorf("container %s is running: pier cannot add a network interface to a running container's VM; stop it, connect it, then start it", trimSlash(x.c.Name)))
	}
	if _, ok := x.c.Networks[n.Name]; ok {
		return errdefs.Forbidden(fmt.Errorf("endpoint with name %s already exists in network %s", trimSlash(x.c.Name), n.Name))
	}
	primary := networkModeOf(x.c.HostConfig.NetworkMode)
	if primary == network.NameHost || primary == network.NameNone || !n.Switched() {
		return errdefs.Forbidden(fmt.Errorf("container cannot be disconnected from host network or connected to host network"))
	}
	ep, err := newEndpoint(n, req)
	if err != nil {
		return err
	}
	eps := maps.Clone(x.c.Networks)
	if eps == nil {
		eps = map[string]*container.Endpoint{}
	}
	eps[n.Name] = ep
	prev := x.c.Networks
	x.c.Networks = eps
	if err := s.saveLocked(x); err != nil {
		x.c.Networks = prev
		return err
	}
	s.publishNetwork(n, "connect", map[string]string{"container": x.c.ID})
	return nil
}

// NetworkDisconnect disconnects a container that is not running from a
// network.
func (s *Containers) NetworkDisconnect(ctx context.Context, netRef, ctrRef string, force bool) error {
	n, x, unlock, err := s.lockForNetworkChange(netRef, ctrRef)
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := x.c.Networks[n.Name]; !ok {
		return errdefs.Forbidden(fmt.Errorf("container %s is not connected to network %s", x.c.ID, n.Name))
	}
	if x.run != nil {
		return errdefs.NotImplemented(fmt.Errorf("container %s is running: pier cannot remove a network interface from a running container's VM; stop it first", trimSlash(x.c.Name)))
	}
	eps := maps.Clone(x.c.Networks)
	delete(eps, n.Name)
	prev := x.c.Networks
	x.c.Networks = eps
	if networkModeOf(x.c.HostConfig.NetworkMode) == n.Name {
		// Docker keeps NetworkMode; the container then starts on none of
		// its old network. Pick the next network, or none.
		next := network.NameNone
		if names := slices.Sorted(maps.Keys(eps)); len(names) > 0 {
			next = names[0]
		}
		x.c.HostConfig.NetworkMode = next
		if next == network.NameNone {
			if none, err := s.nets.Find(network.NameNone); err == nil {
				eps[network.NameNone] = &container.Endpoint{NetworkID: none.ID}
			}
		}
	}
	if err := s.saveLocked(x); err != nil {
		x.c.Networks = prev
		return err
	}
	s.publishNetwork(n, "disconnect", map[string]string{"container": x.c.ID})
	return nil
}

// lockForNetworkChange finds the network and the container of a connect or
// disconnect and locks the container (lifecycle and state) until unlock.
func (s *Containers) lockForNetworkChange(netRef, ctrRef string) (network.Network, *ctr, func(), error) {
	n, err := s.nets.Find(netRef)
	if err != nil {
		return n, nil, nil, err
	}
	x, err := s.get(ctrRef)
	if err != nil {
		return n, nil, nil, err
	}
	x.op.Lock()
	x.mu.Lock()
	return n, x, func() { x.mu.Unlock(); x.op.Unlock() }, nil
}

// publishNetwork sends a network event.
func (s *Containers) publishNetwork(n network.Network, action string, extra map[string]string) {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for k, v := range extra {
		attrs[k] = v
	}
	s.events.Publish(events.Event{
		Type:   events.TypeNetwork,
		Action: action,
		Actor:  events.Actor{ID: n.ID, Attributes: attrs},
	})
}

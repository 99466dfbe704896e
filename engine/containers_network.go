package engine

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/errdefs"
)

// networkModeOf is the network a container's NetworkMode names ("bridge"
// for "" and "default").
func networkModeOf(mode string) string {
	switch mode {
	case "", "default":
		return network.NameBridge
	}
	return mode
}

// resolveEndpoints turns create's NetworkMode and EndpointsConfig into the
// container's endpoints, keyed by network name, checking that the
// networks exist and that the settings suit them.
func (s *Containers) resolveEndpoints(mode string, requested map[string]*container.Endpoint) (string, map[string]*container.Endpoint, error) {
	mode = networkModeOf(mode)
	if strings.HasPrefix(mode, "container:") {
		return "", nil, errdefs.NotImplemented(fmt.Errorf("network mode %q is not supported: every pier container is its own VM with its own network stack", mode))
	}
	primary, err := s.nets.Find(mode)
	if err != nil {
		return "", nil, err
	}
	out := map[string]*container.Endpoint{}
	add := func(n network.Network, req *container.Endpoint) error {
		ep, err := newEndpoint(n, req)
		if err != nil {
			return err
		}
		out[n.Name] = ep
		return nil
	}
	// The request may name the primary network by name or by ID.
	var primaryReq *container.Endpoint
	rest := map[string]*container.Endpoint{}
	for key, req := range requested {
		n, err := s.nets.Find(networkModeOf(key))
		if err != nil {
			return "", nil, err
		}
		if n.ID == primary.ID {
			primaryReq = req
			continue
		}
		rest[n.ID] = req
	}
	if err := add(primary, primaryReq); err != nil {
		return "", nil, err
	}
	for id, req := range rest {
		n, err := s.nets.Find(id)
		if err != nil {
			return "", nil, err
		}
		if !primary.Switched() || !n.Switched() {
			return "", nil, errdefs.InvalidParameterf("container cannot be connected to network %s and to network %s at once", primary.Name, n.Name)
		}
		if err := add(n, req); err != nil {
			return "", nil, err
		}
	}
	if mode == primary.ID {
		mode = primary.Name
	}
	return mode, out, nil
}

// newEndpoint is the endpoint a create or connect request asks for on n,
// checked.
func newEndpoint(n network.Network, req *container.Endpoint) (*container.Endpoint, error) {
	ep := &container.Endpoint{NetworkID: n.ID}
	if req != nil {
		ep.Aliases = slices.Clone(req.Aliases)
		ep.IPv4Address = req.IPv4Address
		ep.Links = slices.Clone(req.Links)
		ep.DriverOpts = maps.Clone(req.DriverOpts)
		ep.DesiredMacAddress = req.MacAddress
		ep.MacAddress = req.MacAddress
	}
	if err := checkEndpoint(n, ep); err != nil {
		return nil, err
	}
	return ep, nil
}

// checkEndpoint refuses settings dockerd refuses on a network.
func checkEndpoint(n network.Network, ep *container.Endpoint) error {
	userDefined := n.Switched() && n.Name != network.NameBridge
	if len(ep.Aliases) > 0 && !userDefined {
		return errdefs.InvalidParameterf("network-scoped alias is supported only for containers in user defined networks")
	}
	if ep.IPv4Address != "" {
		if !userDefined {
			return errdefs.InvalidParameterf("user specified IP address is supported on user defined networks only")
		}
		if _, err := network.CheckAddress(n.Subnet, n.Gateway, ep.IPv4Address, nil); err != nil {
			return errdefs.InvalidParameter(err)
		}
	}
	if ep.DesiredMacAddress != "" {
		if _, err := net.ParseMAC(ep.DesiredMacAddress); err != nil {
			return errdefs.InvalidParameterf("invalid MAC address: %s", ep.DesiredMacAddress)
		}
	}
	return nil
}

// orderedEndpoints lists c's endpoints with the NetworkMode network first
// (it gets eth0 and the default route), the others by name.
func orderedEndpoints(c container.Container) []string {
	primary := networkModeOf(c.HostConfig.NetworkMode)
	names := slices.Sorted(maps.Keys(c.Networks))
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == primary && b != primary:
			return -1
		case b == primary && a != primary:
			return 1
		}
		return 0
	})
	return names
}

// netAttachment is what a run of a container holds on its networks: its
// endpoints (by container ID) and its published ports, held by the
// primary network's switch under the container's ID.
type netAttachment struct {
	containerID string
	published   network.Switch // nil when nothing was published
}

// attachResult is the network part of a start: the guest's configuration,
// the endpoints with their addresses, and the published ports.
type attachResult struct {
	config    *NetworkConfig
	endpoints map[string]*container.Endpoint
	ports     map[string][]container.PortBinding
	held      *netAttachment
	// linkEnv are the legacy links' variables (containers_links.go).
	linkEnv []string
}

// attachNetworks gives a starting container its addresses on its networks
// and binds its published ports. On error nothing stays allocated.
func (s *Containers) attachNetworks(c container.Container) (res *attachResult, err error) {
	held := &netAttachment{containerID: c.ID}
	defer func() {
		if err != nil {
			s.detachNetworks(held)
		}
	}()
	res = &attachResult{endpoints: map[string]*container.Endpoint{}, held: held}
	cfg := &NetworkConfig{}
	var primarySw network.Switch
	var primaryAddr netip.Addr
	var primaryNet network.Network
	name := trimSlash(c.Name)
	for _, netName := range orderedEndpoints(c) {
		ep := c.Networks[netName].Clone()
		ep.ClearAddress()
		res.endpoints[netName] = ep
		n, err := s.nets.Find(ep.NetworkID)
		if err != nil {
			return nil, err
		}
		if n.Driver == network.DriverNull {
			continue
		}
		if n.Driver == network.DriverHost {
			// The closest honest thing to the host's stack: the default
			// bridge's NAT, without an address of its own in inspect.
			bridge, err := s.nets.Find(network.NameBridge)
			if err != nil {
				return nil, err
			}
			n = bridge
		}
		sw, n, err := s.nets.SwitchFor(n.ID)
		if err != nil {
			return nil, err
		}
		var dnsNames []string
		if n.Name != network.NameBridge {
			dnsNames = append([]string{name}, ep.Aliases...)
			dnsNames = append(dnsNames, c.ID[:12])
		}
		addr, epID, err := s.nets.Allocate(n.ID, c.ID, ep.IPv4Address, dnsNames)
		if err != nil {
			return nil, errdefs.InvalidParameter(fmt.Errorf("%s: %w", n.Name, err))
		}
		mac := ep.DesiredMacAddress
		if mac == "" {
			mac = network.MACFor(addr)
		}
		if netName != network.NameHost {
			ep.EndpointID = epID
			ep.IPAddress = addr.String()
			ep.IPPrefixLen = n.Subnet.Bits()
			ep.Gateway = n.Gateway.String()
			ep.MacAddress = mac
			ep.DNSNames = dnsNames
		}
		cfg.Interfaces = append(cfg.Interfaces, NetworkInterface{
			MAC:     mac,
			Address: netip.PrefixFrom(addr, n.Subnet.Bits()),
			MTU:     vnet.DefaultMTU,
			Attach:  sw.Attach,
		})
		if primarySw == nil {
			primarySw, primaryAddr, primaryNet = sw, addr, n
		}
	}
	if primarySw == nil {
		// --network none: loopback only, like Docker.
		res.config = &NetworkConfig{Hosts: hostsLines(c, netip.Addr{}, network.Network{})}
		return res, nil
	}
	if !primaryNet.Internal {
		cfg.Gateway = primaryNet.Gateway
	}
	cfg.Nameservers = []string{primaryNet.Gateway.String()}
	if len(c.HostConfig.DNS) > 0 {
		cfg.Nameservers = slices.Clone(c.HostConfig.DNS)
	}
	cfg.Search = slices.Clone(c.HostConfig.DNSSearch)
	cfg.Options = slices.Clone(c.HostConfig.DNSOptions)
	if len(cfg.Options) == 0 && primaryNet.Name != network.NameBridge {
		// As dockerd's embedded DNS: single-label names are tried as they
		// are first.
		cfg.Options = []string{"ndots:0"}
	}
	cfg.Hosts = hostsLines(c, primaryAddr, primaryNet)
	linkHosts, linkEnv, err := s.linkedContainers(c)
	if err != nil {
		return nil, err
	}
	cfg.Hosts = append(cfg.Hosts, linkHosts...)
	res.config, res.linkEnv = cfg, linkEnv

	if networkModeOf(c.HostConfig.NetworkMode) == network.NameHost {
		return res, nil // published ports are discarded with host networking, as in Docker
	}
	ports, err := s.publishPorts(c, primarySw, primaryAddr, held)
	if err != nil {
		return nil, err
	}
	res.ports = ports
	return res, nil
}

// hostsLines are the container's /etc/hosts lines after localhost's:
// --add-host entries (host-gateway is the network's gateway, which leads
// to the host), host.docker.internal, then the container's own address.
func hostsLines(c container.Container, addr netip.Addr, n network.Network) []string {
	var out []string
	haveHostAlias := false
	for _, h := range c.HostConfig.ExtraHosts {
		host, ip, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		if ip == "host-gateway" {
			if !n.Gateway.IsValid() {
				continue
			}
			ip = n.Gateway.String()
		}
		if host == network.HostDockerInternal {
			haveHostAlias = true
		}
		out = append(out, ip+"\t"+host)
	}
	if n.Gateway.IsValid() && !n.Internal && !haveHostAlias {
		out = append(out, n.Gateway.String()+"\t"+network.HostDockerInternal)
	}
	if addr.IsValid() {
		names := c.Config.Hostname
		if c.Config.Domainname != "" {
			names = c.Config.Hostname + "." + c.Config.Domainname + " " + c.Config.Hostname
		}
		out = append(out, addr.String()+"\t"+names)
	}
	return out
}

// publishPorts binds every published port of c on the host and forwards
// it to addr in the container's primary network.
func (s *Containers) publishPorts(c container.Container, sw network.Switch, addr netip.Addr, held *netAttachment) (map[string][]container.PortBinding, error) {
	bindings := map[string][]container.PortBinding{}
	for k, v := range c.HostConfig.PortBindings {
		bindings[k] = slices.Clone(v)
	}
	if c.HostConfig.PublishAllPorts {
		for _, p := range c.Config.ExposedPorts {
			if len(bindings[p]) == 0 {
				bindings[p] = []container.PortBinding{{}}
			}
		}
	}
	out := map[string][]container.PortBinding{}
	for _, p := range c.Config.ExposedPorts {
		out[p] = nil
	}
	if len(bindings) > 0 {
		held.published = sw
	}
	for _, key := range slices.Sorted(maps.Keys(bindings)) {
		port, proto, err := splitPortKey(key)
		if err != nil {
			return nil, err
		}
		if proto == "sctp" {
			return nil, errdefs.NotImplemented(fmt.Errorf("publishing %s: pier cannot forward SCTP", key))
		}
		for _, b := range bindings[key] {
			bound, err := publishOne(sw, c.ID, proto, b, netip.AddrPortFrom(addr, port))
			if err != nil {
				return nil, fmt.Errorf("driver failed programming external connectivity on endpoint %s (%s): %w", trimSlash(c.Name), c.ID, err)
			}
			hostIP := b.HostIP
			if hostIP == "" {
				hostIP = "0.0.0.0"
			}
			out[key] = append(out[key], container.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(bound.Port()))})
		}
	}
	return out, nil
}

// publishOne binds one host address for owner: HostPort "" or "0" picks a
// free port, "a-b" the first free one of the range. It returns the address
// bound.
func publishOne(sw network.Switch, owner, proto string, b container.PortBinding, target netip.AddrPort) (netip.AddrPort, error) {
	ip := b.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	lo, hi := 0, 0
	if b.HostPort != "" {
		start, end, isRange := strings.Cut(b.HostPort, "-")
		var err1, err2 error
		lo, err1 = strconv.Atoi(start)
		hi = lo
		if isRange {
			hi, err2 = strconv.Atoi(end)
		}
		if err1 != nil || err2 != nil || lo < 0 || hi > 65535 || hi < lo {
			return netip.AddrPort{}, errdefs.InvalidParameterf("invalid host port: %s", b.HostPort)
		}
	}
	var lastErr error
	for p := lo; p <= hi; p++ {
		bound, err := sw.Publish(owner, proto, net.JoinHostPort(ip, strconv.Itoa(p)), target)
		if err == nil {
			return bound, nil
		}
		lastErr = err
	}
	if errors.Is(lastErr, syscall.EADDRINUSE) {
		return netip.AddrPort{}, fmt.Errorf("Bind for %s failed: port is already allocated", net.JoinHostPort(ip, b.HostPort))
	}
	return netip.AddrPort{}, lastErr
}

// splitPortKey parses "80/tcp" (no protocol means tcp).
func splitPortKey(key string) (uint16, string, error) {
	port, proto, ok := strings.Cut(key, "/")
	if !ok || proto == "" {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return 0, "", errdefs.InvalidParameterf("invalid port specification: %q", key)
	}
	return uint16(n), strings.ToLower(proto), nil
}

// detachNetworks closes a run's published ports and frees its addresses.
func (s *Containers) detachNetworks(h *netAttachment) {
	if h == nil {
		return
	}
	if h.published != nil {
		if err := h.published.Release(h.containerID); err != nil {
			s.log.Warn("releasing published ports", "container", h.containerID, "err", err)
		}
		h.published = nil
	}
	s.nets.Release(h.containerID)
}

// clearNetworkState forgets the run-time part of c's endpoints and its
// published ports (the container stopped). Endpoints are replaced, never
// modified in place: snapshots share them.
func clearNetworkState(c *container.Container) {
	eps := make(map[string]*container.Endpoint, len(c.Networks))
	for k, ep := range c.Networks {
		ep = ep.Clone()
		ep.ClearAddress()
		eps[k] = ep
	}
	if c.Networks != nil {
		c.Networks = eps
	}
	c.Ports = nil
}

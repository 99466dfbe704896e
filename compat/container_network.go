package compat

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	enginecontainer "github.com/pier-vm/pier/engine/container"
)

// networkSettingsToAPI is inspect's NetworkSettings: the endpoints with
// their addresses while the container runs, the published ports (an empty
// map when it does not run, as dockerd's), and the deprecated top-level
// fields dockerd still fills from the default bridge's endpoint. SandboxID
// and SandboxKey stay empty: a VM has no network namespace on the host.
func networkSettingsToAPI(c enginecontainer.Container) *container.NetworkSettings {
	out := &container.NetworkSettings{
		NetworkSettingsBase: container.NetworkSettingsBase{Ports: portMapToAPI(c.Ports)},
		Networks:            map[string]*network.EndpointSettings{},
	}
	for name, ep := range c.Networks {
		if ep != nil {
			out.Networks[name] = endpointToAPI(ep)
		}
	}
	if br := out.Networks[network.NetworkBridge]; br != nil {
		out.DefaultNetworkSettings = container.DefaultNetworkSettings{
			EndpointID:  br.EndpointID,
			Gateway:     br.Gateway,
			IPAddress:   br.IPAddress,
			IPPrefixLen: br.IPPrefixLen,
			MacAddress:  br.MacAddress,
		}
	}
	return out
}

// AddLegacyAliases adds, as dockerd does for API versions before 1.45, the
// container's short ID and hostname to its aliases on user-defined
// networks (newer clients find them in DNSNames).
func AddLegacyAliases(resp *container.InspectResponse) {
	if resp.NetworkSettings == nil || resp.ContainerJSONBase == nil {
		return
	}
	short := resp.ID
	if len(short) > 12 {
		short = short[:12]
	}
	var hostname string
	if resp.Config != nil {
		hostname = resp.Config.Hostname
	}
	for name, ep := range resp.NetworkSettings.Networks {
		if ep == nil || !container.NetworkMode(name).IsUserDefined() {
			continue
		}
		for _, a := range []string{short, hostname} {
			if a != "" && !slices.Contains(ep.Aliases, a) {
				ep.Aliases = append(ep.Aliases, a)
			}
		}
	}
}

// endpointToAPI is one entry of inspect's NetworkSettings.Networks.
func endpointToAPI(ep *enginecontainer.Endpoint) *network.EndpointSettings {
	out := &network.EndpointSettings{
		Links:       slices.Clone(ep.Links),
		Aliases:     slices.Clone(ep.Aliases),
		MacAddress:  ep.MacAddress,
		DriverOpts:  maps.Clone(ep.DriverOpts),
		NetworkID:   ep.NetworkID,
		EndpointID:  ep.EndpointID,
		Gateway:     ep.Gateway,
		IPAddress:   ep.IPAddress,
		IPPrefixLen: ep.IPPrefixLen,
		DNSNames:    slices.Clone(ep.DNSNames),
	}
	if ep.IPv4Address != "" {
		out.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.IPv4Address}
	}
	return out
}

// summaryNetworks is `docker ps`'s NetworkSettings.Networks: dockerd's
// list carries the addresses but not the aliases, links, driver options or
// DNS names.
func summaryNetworks(c enginecontainer.Container) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for name, ep := range c.Networks {
		if ep == nil {
			continue
		}
		es := endpointToAPI(ep)
		es.Links, es.Aliases, es.DriverOpts, es.DNSNames = nil, nil, nil, nil
		out[name] = es
	}
	return out
}

// portMapToAPI is inspect's NetworkSettings.Ports: exposed ports that are
// not published map to null.
func portMapToAPI(ports map[string][]enginecontainer.PortBinding) nat.PortMap {
	out := make(nat.PortMap, len(ports))
	for key, bs := range ports {
		if bs == nil {
			out[nat.Port(key)] = nil
			continue
		}
		list := make([]nat.PortBinding, 0, len(bs))
		for _, b := range bs {
			list = append(list, nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
		out[nat.Port(key)] = list
	}
	return out
}

// portsSummary is `docker ps`'s Ports: one entry per host binding, and
// one with the private port and protocol only for a port that is exposed
// but not published; sorted by private port, protocol, then public port.
func portsSummary(ports map[string][]enginecontainer.PortBinding) []container.Port {
	out := []container.Port{}
	for key, bs := range ports {
		portStr, proto, ok := strings.Cut(key, "/")
		if !ok {
			proto = "tcp"
		}
		private, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			continue
		}
		if len(bs) == 0 {
			out = append(out, container.Port{PrivatePort: uint16(private), Type: proto})
			continue
		}
		for _, b := range bs {
			public, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil {
				continue
			}
			out = append(out, container.Port{IP: b.HostIP, PrivatePort: uint16(private), PublicPort: uint16(public), Type: proto})
		}
	}
	slices.SortFunc(out, func(a, b container.Port) int {
		switch {
		case a.PrivatePort != b.PrivatePort:
			return int(a.PrivatePort) - int(b.PrivatePort)
		case a.Type != b.Type:
			return strings.Compare(a.Type, b.Type)
		case a.PublicPort != b.PublicPort:
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return strings.Compare(a.IP, b.IP)
	})
	return out
}

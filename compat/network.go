package compat

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// networkScope is the scope of every pier network: there is no swarm.
const networkScope = "local"

// ipamDriver is the only IPAM driver pier has, named as dockerd names its
// built-in one.
const ipamDriver = "default"

// NetworkInspect converts an engine network to `docker network inspect`'s
// answer. withContainers is false for GET /networks (API 1.28 and later),
// where dockerd leaves Containers empty.
func NetworkInspect(info engine.NetworkInfo, withContainers bool) network.Inspect {
	n := info.Network
	out := network.Inspect{
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      networkScope,
		Driver:     n.Driver,
		EnableIPv4: true,
		EnableIPv6: n.EnableIPv6,
		// Like dockerd: Options as the create request gave them (null for
		// the predefined networks), Config null for host and none.
		IPAM:       network.IPAM{Driver: ipamDriver, Options: n.IPAMOptions},
		Internal:   n.Internal,
		Attachable: n.Attachable,
		ConfigFrom: network.ConfigReference{},
		Containers: map[string]network.EndpointResource{},
		Options:    orEmptyMap(n.Options),
		Labels:     orEmptyMap(n.Labels),
	}
	if n.Subnet.IsValid() {
		cfg := network.IPAMConfig{Subnet: n.Subnet.String()}
		if n.Gateway.IsValid() {
			cfg.Gateway = n.Gateway.String()
		}
		out.IPAM.Config = []network.IPAMConfig{cfg}
	}
	if withContainers {
		for id, ep := range info.Containers {
			out.Containers[id] = network.EndpointResource{
				Name:        ep.Name,
				EndpointID:  ep.EndpointID,
				MacAddress:  ep.MacAddress,
				IPv4Address: ep.IPv4Address,
			}
		}
	}
	return out
}

// NetworkCreateFromAPI converts `docker network create`'s body. What pier
// cannot do (swarm scopes, ingress and config-only networks, IPAM drivers
// other than the default, auxiliary addresses, IPv4-less networks) is
// refused rather than ignored. CheckDuplicate is ignored: names are always
// unique, as in current dockerd.
func NetworkCreateFromAPI(req network.CreateRequest) (engine.NetworkCreateRequest, error) {
	out := engine.NetworkCreateRequest{
		Name:       req.Name,
		Driver:     req.Driver,
		Internal:   req.Internal,
		Attachable: req.Attachable,
		Labels:     maps.Clone(req.Labels),
		Options:    maps.Clone(req.Options),
	}
	switch req.Name {
	case network.NetworkBridge, network.NetworkHost, network.NetworkNone, network.NetworkDefault:
		return out, errdefs.Forbidden(fmt.Errorf("operation is not permitted on predefined %s network ", req.Name))
	}
	if req.EnableIPv6 != nil {
		out.EnableIPv6 = *req.EnableIPv6
	}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		return out, errdefs.NotImplemented(fmt.Errorf("networks without IPv4 are not supported by pier"))
	}
	switch req.Scope {
	case "", networkScope:
	default:
		return out, errdefs.NotImplemented(fmt.Errorf("network scope %q is not supported: pier has no swarm, every network is local", req.Scope))
	}
	if req.Ingress || req.ConfigOnly || req.ConfigFrom != nil {
		return out, errdefs.NotImplemented(fmt.Errorf("ingress and config-only networks need a swarm, which pier does not have"))
	}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != ipamDriver {
			return out, errdefs.NotFoundf("IPAM driver %q not found: pier has only the default one", ipam.Driver)
		}
		out.IPAMOptions = maps.Clone(ipam.Options)
		for _, c := range ipam.Config {
			if len(c.AuxAddress) > 0 {
				return out, errdefs.NotImplemented(fmt.Errorf("auxiliary addresses are not supported by pier"))
			}
			out.IPAM = append(out.IPAM, engine.IPAMPool{Subnet: c.Subnet, Gateway: c.Gateway, IPRange: c.IPRange})
		}
	}
	return out, nil
}

// EndpointFromAPI converts an endpoint's settings from a create request's
// NetworkingConfig or a connect request (es may be nil). Only the
// configuration part is read; addresses are the engine's to give.
func EndpointFromAPI(es *network.EndpointSettings) (*enginecontainer.Endpoint, error) {
	if es == nil {
		return nil, nil
	}
	ep := &enginecontainer.Endpoint{
		Aliases:    slices.Clone(es.Aliases),
		Links:      slices.Clone(es.Links),
		DriverOpts: maps.Clone(es.DriverOpts),
		MacAddress: es.MacAddress,
	}
	if c := es.IPAMConfig; c != nil {
		if c.IPv6Address != "" {
			return nil, errdefs.InvalidParameterf("invalid IPv6 address %s: pier networks are IPv4-only", c.IPv6Address)
		}
		ep.IPv4Address = c.IPv4Address
	}
	return ep, nil
}

// EndpointsFromAPI converts NetworkingConfig.EndpointsConfig (keys are
// network names or IDs; nil stays nil).
func EndpointsFromAPI(nc *network.NetworkingConfig) (map[string]*enginecontainer.Endpoint, error) {
	if nc == nil || len(nc.EndpointsConfig) == 0 {
		return nil, nil
	}
	out := make(map[string]*enginecontainer.Endpoint, len(nc.EndpointsConfig))
	for name, es := range nc.EndpointsConfig {
		ep, err := EndpointFromAPI(es)
		if err != nil {
			return nil, err
		}
		out[name] = ep
	}
	return out, nil
}

// ContainerEndpointsFromAPI converts a create request's NetworkingConfig
// and moves the deprecated container-wide Config.MacAddress to the
// endpoint of the NetworkMode network, as dockerd does. legacy is API
// before 1.44: one endpoint at most, and only the container-wide MAC
// address counts. The warning is dockerd's for a container-wide MAC
// address on newer APIs.
func ContainerEndpointsFromAPI(cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, legacy bool) (map[string]*enginecontainer.Endpoint, string, error) {
	var settings map[string]*network.EndpointSettings
	if nc != nil && len(nc.EndpointsConfig) > 0 {
		settings = make(map[string]*network.EndpointSettings, len(nc.EndpointsConfig))
		for k, es := range nc.EndpointsConfig {
			if es == nil {
				es = &network.EndpointSettings{}
			}
			settings[k] = es.Copy()
		}
	}
	if legacy && len(settings) > 1 {
		names := slices.Sorted(maps.Keys(settings))
		return nil, "", errdefs.InvalidParameterf("Container cannot be created with multiple network endpoints: %s", strings.Join(names, ", "))
	}
	var mac, mode string
	if cfg != nil {
		mac = cfg.MacAddress //nolint:staticcheck // the deprecated field older clients send
	}
	if hc != nil {
		mode = string(hc.NetworkMode)
	}
	var warning string
	switch {
	case legacy && mac == "":
		// The old API ignored endpoint MAC addresses.
		for _, es := range settings {
			es.MacAddress = ""
		}
	case mac == "":
	default:
		if !legacy {
			warning = "The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead."
		}
		name, switched := macNetwork(mode)
		if !switched {
			if legacy {
				return nil, "", errdefs.InvalidParameterf("conflicting options: mac-address and the network mode")
			}
			break
		}
		var es *network.EndpointSettings
		switch {
		case len(settings) == 0:
			es = &network.EndpointSettings{}
			settings = map[string]*network.EndpointSettings{name: es}
		case legacy:
			for _, v := range settings {
				es = v
			}
		default:
			if es = settings[name]; es == nil {
				return nil, "", errdefs.InvalidParameterf("unable to migrate container-wide MAC address to a specific network: HostConfig.NetworkMode must match the identity of a network in NetworkSettings.Networks")
			}
		}
		switch {
		case es.MacAddress == "" || legacy:
			es.MacAddress = mac
		case es.MacAddress != mac:
			return nil, "", errdefs.InvalidParameterf("the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty")
		}
	}
	eps, err := EndpointsFromAPI(&network.NetworkingConfig{EndpointsConfig: settings})
	return eps, warning, err
}

// macNetwork is the network a container-wide MAC address belongs to, and
// whether that network mode can have one (bridge or user-defined).
func macNetwork(mode string) (string, bool) {
	switch {
	case mode == "" || mode == network.NetworkDefault || mode == network.NetworkBridge:
		return network.NetworkBridge, true
	case mode == network.NetworkHost || mode == network.NetworkNone || strings.HasPrefix(mode, "container:"):
		return mode, false
	}
	return mode, true
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

package compat

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/pier-vm/pier/engine"
	enginenetwork "github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/errdefs"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.UTC)

// testNetworks are the predefined networks and two user networks, one of
// them with a running container.
func testNetworks() []engine.NetworkInfo {
	mk := func(id, name, driver string, subnet string, labels map[string]string, age int) engine.NetworkInfo {
		n := enginenetwork.Network{ID: id, Name: name, Driver: driver, Labels: labels, Created: t0.Add(time.Duration(age) * time.Hour)}
		if subnet != "" {
			n.Subnet = netip.MustParsePrefix(subnet)
			n.Gateway = enginenetwork.DefaultGateway(n.Subnet)
		}
		return engine.NetworkInfo{Network: n, Containers: map[string]engine.NetworkEndpoint{}}
	}
	nets := []engine.NetworkInfo{
		mk("b1b1", "bridge", "bridge", "172.17.0.0/16", nil, 0),
		mk("h2h2", "host", "host", "", nil, 0),
		mk("n3n3", "none", "null", "", nil, 0),
		mk("a4a4", "front", "bridge", "172.18.0.0/16", map[string]string{"com.docker.compose.project": "shop", "tier": "web"}, 1),
		mk("c5c5", "back-end", "bridge", "172.19.0.0/16", map[string]string{"tier": "db"}, 2),
	}
	nets[3].Containers["ctr1"] = engine.NetworkEndpoint{ContainerID: "ctr1", Name: "web", EndpointID: "ep1", MacAddress: "02:42:ac:12:00:02", IPv4Address: "172.18.0.2/16"}
	return nets
}

func TestNetworkInspect(t *testing.T) {
	nets := testNetworks()
	nets[0].Options = map[string]string{"com.docker.network.bridge.default_bridge": "true"}
	nets[3].IPAMOptions = map[string]string{}

	user := NetworkInspect(nets[3], true)
	if user.Name != "front" || user.ID != "a4a4" || user.Scope != "local" || user.Driver != "bridge" || !user.EnableIPv4 || user.EnableIPv6 ||
		user.IPAM.Driver != "default" || len(user.IPAM.Config) != 1 || user.IPAM.Config[0].Subnet != "172.18.0.0/16" || user.IPAM.Config[0].Gateway != "172.18.0.1" ||
		user.Labels["tier"] != "web" || user.Options == nil {
		t.Fatalf("user network: %+v", user)
	}
	if ep := user.Containers["ctr1"]; ep.Name != "web" || ep.EndpointID != "ep1" || ep.MacAddress != "02:42:ac:12:00:02" || ep.IPv4Address != "172.18.0.2/16" || ep.IPv6Address != "" {
		t.Fatalf("endpoint: %+v", ep)
	}
	if listed := NetworkInspect(nets[3], false); len(listed.Containers) != 0 || listed.Containers == nil {
		t.Fatalf("list form must have an empty Containers map: %+v", listed.Containers)
	}

	// The JSON dockerd writes: Id, Created in RFC 3339 with nanoseconds,
	// never-null Labels, Options and Containers, no Peers; null IPAM
	// Config for host, IPAM Options as created.
	b, _ := json.Marshal(NetworkInspect(nets[1], true))
	for _, want := range []string{
		`"Name":"host"`, `"Id":"h2h2"`, `"Created":"2025-03-01T10:00:00.123456789Z"`, `"Scope":"local"`, `"Driver":"host"`,
		`"EnableIPv4":true`, `"IPAM":{"Driver":"default","Options":null,"Config":null}`, `"Ingress":false`,
		`"ConfigFrom":{"Network":""}`, `"ConfigOnly":false`, `"Containers":{}`, `"Options":{}`, `"Labels":{}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("host network JSON lacks %s: %s", want, b)
		}
	}
	if strings.Contains(string(b), "Peers") || strings.Contains(string(b), "Services") {
		t.Errorf("Peers and Services must be omitted: %s", b)
	}
	b, _ = json.Marshal(NetworkInspect(nets[3], true))
	if !strings.Contains(string(b), `"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]}`) {
		t.Errorf("user network IPAM: %s", b)
	}
	if br := NetworkInspect(nets[0], true); br.Options["com.docker.network.bridge.default_bridge"] != "true" {
		t.Errorf("bridge options: %+v", br.Options)
	}
}

func listedNetworks(t *testing.T, args filters.Args) string {
	t.Helper()
	f, err := NewNetworkListFilter(args)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var names []string
	for _, n := range testNetworks() {
		if f.Match(n) {
			names = append(names, n.Name)
		}
	}
	return strings.Join(names, ",")
}

func TestNetworkListFilter(t *testing.T) {
	all := "bridge,host,none,front,back-end"
	cases := []struct {
		args filters.Args
		want string
	}{
		{filters.NewArgs(), all},
		{filters.NewArgs(filters.Arg("name", "front")), "front"},
		{filters.NewArgs(filters.Arg("name", "o")), "host,none,front"}, // substring, as dockerd
		{filters.NewArgs(filters.Arg("name", "^b")), "bridge,back-end"},
		{filters.NewArgs(filters.Arg("name", "front"), filters.Arg("name", "none")), "none,front"},
		{filters.NewArgs(filters.Arg("id", "a4")), "front"},
		{filters.NewArgs(filters.Arg("id", "a4a4")), "front"},
		{filters.NewArgs(filters.Arg("id", "zz")), ""},
		{filters.NewArgs(filters.Arg("label", "tier")), "front,back-end"},
		{filters.NewArgs(filters.Arg("label", "tier=db")), "back-end"},
		{filters.NewArgs(filters.Arg("label", "tier=web"), filters.Arg("label", "com.docker.compose.project=shop")), "front"},
		{filters.NewArgs(filters.Arg("label", "tier=db"), filters.Arg("label", "com.docker.compose.project")), ""},
		{filters.NewArgs(filters.Arg("driver", "bridge")), "bridge,front,back-end"},
		{filters.NewArgs(filters.Arg("driver", "null"), filters.Arg("driver", "host")), "host,none"},
		{filters.NewArgs(filters.Arg("driver", "bri")), ""}, // exact
		{filters.NewArgs(filters.Arg("type", "custom")), "front,back-end"},
		{filters.NewArgs(filters.Arg("type", "builtin")), "bridge,host,none"},
		{filters.NewArgs(filters.Arg("type", "builtin"), filters.Arg("type", "custom")), all},
		{filters.NewArgs(filters.Arg("scope", "local")), all},
		{filters.NewArgs(filters.Arg("scope", "swarm")), ""},
		{filters.NewArgs(filters.Arg("dangling", "true")), "back-end"},
		{filters.NewArgs(filters.Arg("dangling", "1")), "back-end"},
		{filters.NewArgs(filters.Arg("dangling", "false")), "bridge,host,none,front"},
		{filters.NewArgs(filters.Arg("dangling", "0"), filters.Arg("type", "custom")), "front"},
		{filters.NewArgs(filters.Arg("driver", "bridge"), filters.Arg("label", "tier")), "front,back-end"},
	}
	for _, c := range cases {
		if got := listedNetworks(t, c.args); got != c.want {
			t.Errorf("%v: got %q, want %q", c.args, got, c.want)
		}
	}
}

func TestNetworkListFilterErrors(t *testing.T) {
	for _, args := range []filters.Args{
		filters.NewArgs(filters.Arg("colour", "red")),
		filters.NewArgs(filters.Arg("type", "special")),
		filters.NewArgs(filters.Arg("dangling", "maybe")),
		filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("dangling", "false")),
	} {
		if _, err := NewNetworkListFilter(args); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestNetworkPruneFilter(t *testing.T) {
	now := t0.Add(10 * time.Hour)
	cases := []struct {
		args filters.Args
		want string
	}{
		{filters.NewArgs(), "bridge,host,none,front,back-end"}, // the engine skips predefined and used ones
		{filters.NewArgs(filters.Arg("label", "tier")), "front,back-end"},
		{filters.NewArgs(filters.Arg("label", "tier=db")), "back-end"},
		{filters.NewArgs(filters.Arg("label!", "tier=db")), "bridge,host,none,front"},
		{filters.NewArgs(filters.Arg("label!", "tier")), "bridge,host,none"},
		{filters.NewArgs(filters.Arg("label", "tier"), filters.Arg("label!", "com.docker.compose.project")), "back-end"},
		{filters.NewArgs(filters.Arg("until", t0.Add(90*time.Minute).Format(time.RFC3339))), "bridge,host,none,front"},
		{filters.NewArgs(filters.Arg("until", "9h30m")), "bridge,host,none"}, // a duration back from now
	}
	for _, c := range cases {
		match, err := NetworkPruneFilter(c.args, now)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var names []string
		for _, n := range testNetworks() {
			if match(n.Network) {
				names = append(names, n.Name)
			}
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("%v: got %q, want %q", c.args, got, c.want)
		}
	}
	for _, args := range []filters.Args{
		filters.NewArgs(filters.Arg("dangling", "true")),
		filters.NewArgs(filters.Arg("until", "soon")),
		filters.NewArgs(filters.Arg("until", "1h"), filters.Arg("until", "2h")),
	} {
		if _, err := NetworkPruneFilter(args, now); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestNetworkCreateFromAPI(t *testing.T) {
	yes, no := true, false
	req := network.CreateRequest{Name: "n1", CreateOptions: network.CreateOptions{
		Driver: "bridge", Internal: true, Attachable: true, EnableIPv6: &no, EnableIPv4: &yes,
		Labels:  map[string]string{"a": "b"},
		Options: map[string]string{"com.docker.network.driver.mtu": "1400"},
		IPAM: &network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{
			{Subnet: "10.5.0.0/24", Gateway: "10.5.0.254", IPRange: "10.5.0.128/25"},
		}},
	}}
	got, err := NetworkCreateFromAPI(req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "n1" || got.Driver != "bridge" || !got.Internal || !got.Attachable || got.EnableIPv6 || got.Labels["a"] != "b" ||
		got.Options["com.docker.network.driver.mtu"] != "1400" || got.IPAMOptions == nil || len(got.IPAM) != 1 ||
		got.IPAM[0] != (engine.IPAMPool{Subnet: "10.5.0.0/24", Gateway: "10.5.0.254", IPRange: "10.5.0.128/25"}) {
		t.Fatalf("%+v", got)
	}
	if got, err := NetworkCreateFromAPI(network.CreateRequest{Name: "n2"}); err != nil || got.IPAM != nil || got.IPAMOptions != nil || got.EnableIPv6 {
		t.Fatalf("minimal: %+v %v", got, err)
	}
	if got, _ := NetworkCreateFromAPI(network.CreateRequest{Name: "n3", CreateOptions: network.CreateOptions{EnableIPv6: &yes}}); !got.EnableIPv6 {
		t.Fatal("EnableIPv6 lost (the engine refuses it)")
	}

	refused := []struct {
		req  network.CreateRequest
		kind func(error) bool
	}{
		{network.CreateRequest{Name: "bridge"}, errdefs.IsForbidden},
		{network.CreateRequest{Name: "default"}, errdefs.IsForbidden},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{EnableIPv4: &no}}, isNotImplemented},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{Scope: "swarm"}}, isNotImplemented},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{Ingress: true}}, isNotImplemented},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{ConfigOnly: true}}, isNotImplemented},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{IPAM: &network.IPAM{Driver: "dhcp"}}}, errdefs.IsNotFound},
		{network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{
			{Subnet: "10.0.0.0/24", AuxAddress: map[string]string{"r": "10.0.0.5"}},
		}}}}, isNotImplemented},
	}
	for _, c := range refused {
		if _, err := NetworkCreateFromAPI(c.req); !c.kind(err) {
			t.Errorf("%+v: %v", c.req, err)
		}
	}
	if _, err := NetworkCreateFromAPI(network.CreateRequest{Name: "x", CreateOptions: network.CreateOptions{Scope: "local"}}); err != nil {
		t.Errorf("scope local: %v", err)
	}
}

func isNotImplemented(err error) bool { return errdefs.KindOf(err) == errdefs.KindNotImplemented }

func TestEndpointFromAPI(t *testing.T) {
	if ep, err := EndpointFromAPI(nil); ep != nil || err != nil {
		t.Fatalf("nil: %v %v", ep, err)
	}
	ep, err := EndpointFromAPI(&network.EndpointSettings{
		Aliases: []string{"db"}, Links: []string{"a:b"}, DriverOpts: map[string]string{"k": "v"}, MacAddress: "02:42:0a:00:00:09",
		IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "10.0.0.9"},
		// Operational fields are not the client's to set.
		IPAddress: "1.2.3.4", EndpointID: "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Aliases[0] != "db" || ep.Links[0] != "a:b" || ep.DriverOpts["k"] != "v" || ep.MacAddress != "02:42:0a:00:00:09" ||
		ep.IPv4Address != "10.0.0.9" || ep.IPAddress != "" || ep.EndpointID != "" {
		t.Fatalf("%+v", ep)
	}
	if _, err := EndpointFromAPI(&network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv6Address: "fd00::9"}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("IPv6 address: %v", err)
	}
}

func TestContainerEndpointsFromAPI(t *testing.T) {
	const mac = "02:42:ac:11:00:09"
	cfgMAC := &container.Config{MacAddress: mac}
	nc := func(eps map[string]*network.EndpointSettings) *network.NetworkingConfig {
		return &network.NetworkingConfig{EndpointsConfig: eps}
	}

	// Endpoints pass through, by network name or ID; none stays nil.
	eps, warn, err := ContainerEndpointsFromAPI(&container.Config{}, &container.HostConfig{NetworkMode: "n1"}, nc(map[string]*network.EndpointSettings{
		"n1": {Aliases: []string{"web"}}, "c5c5": nil,
	}), false)
	if err != nil || warn != "" || len(eps) != 2 || eps["n1"].Aliases[0] != "web" || eps["c5c5"] == nil {
		t.Fatalf("%+v %q %v", eps, warn, err)
	}
	if eps, _, err := ContainerEndpointsFromAPI(&container.Config{}, nil, nil, false); eps != nil || err != nil {
		t.Fatalf("none: %v %v", eps, err)
	}

	// API 1.44+: the container-wide MAC moves to the NetworkMode network,
	// with dockerd's warning.
	eps, warn, err = ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{}, nil, false)
	if err != nil || !strings.Contains(warn, "deprecated") || eps["bridge"].MacAddress != mac {
		t.Fatalf("bridge MAC: %+v %q %v", eps, warn, err)
	}
	eps, _, err = ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "n1"}, nc(map[string]*network.EndpointSettings{"n1": {}}), false)
	if err != nil || eps["n1"].MacAddress != mac {
		t.Fatalf("user network MAC: %+v %v", eps, err)
	}
	if _, _, err := ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "n1"}, nc(map[string]*network.EndpointSettings{"n2": {}}), false); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("MAC for an unnamed endpoint: %v", err)
	}
	if _, _, err := ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "n1"}, nc(map[string]*network.EndpointSettings{"n1": {MacAddress: "02:42:00:00:00:01"}}), false); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("conflicting MACs: %v", err)
	}
	if eps, warn, err := ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "host"}, nil, false); err != nil || warn == "" || eps != nil {
		t.Fatalf("host MAC on 1.44+: %v %q %v", eps, warn, err)
	}

	// Before 1.44: one endpoint at most, endpoint MACs ignored, the
	// container-wide one used.
	if _, _, err := ContainerEndpointsFromAPI(&container.Config{}, nil, nc(map[string]*network.EndpointSettings{"a": {}, "b": {}}), true); !errdefs.IsInvalidParameter(err) ||
		!strings.Contains(err.Error(), "multiple network endpoints: a, b") {
		t.Fatalf("legacy multiple: %v", err)
	}
	eps, _, _ = ContainerEndpointsFromAPI(&container.Config{}, nil, nc(map[string]*network.EndpointSettings{"n1": {MacAddress: mac}}), true)
	if eps["n1"].MacAddress != "" {
		t.Fatalf("legacy endpoint MAC kept: %+v", eps["n1"])
	}
	eps, warn, _ = ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "n1"}, nc(map[string]*network.EndpointSettings{"n1-id": {}}), true)
	if warn != "" || eps["n1-id"].MacAddress != mac {
		t.Fatalf("legacy MAC: %+v %q", eps, warn)
	}
	if _, _, err := ContainerEndpointsFromAPI(cfgMAC, &container.HostConfig{NetworkMode: "none"}, nil, true); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("legacy MAC with none: %v", err)
	}
}

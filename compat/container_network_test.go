package compat

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// runningOnTwoNetworks is a running container on the default bridge and
// on a user network, publishing 80/tcp twice and exposing 53/udp.
func runningOnTwoNetworks() enginecontainer.Container {
	return enginecontainer.Container{
		ID: testID, Name: "/web",
		Config:     enginecontainer.Config{Hostname: "0123456789ab", ExposedPorts: []string{"53/udp", "80/tcp"}},
		HostConfig: enginecontainer.HostConfig{NetworkMode: "bridge"},
		State:      enginecontainer.State{Status: "running", Running: true, StartedAt: time.Now()},
		Networks: map[string]*enginecontainer.Endpoint{
			"bridge": {NetworkID: "b1b1", EndpointID: "ep-b", IPAddress: "172.17.0.2", IPPrefixLen: 16, Gateway: "172.17.0.1", MacAddress: "02:42:ac:11:00:02"},
			"front": {NetworkID: "a4a4", Aliases: []string{"www"}, IPv4Address: "172.18.0.9", Links: []string{"/db:/web/db"}, DriverOpts: map[string]string{"k": "v"},
				EndpointID: "ep-f", IPAddress: "172.18.0.9", IPPrefixLen: 16, Gateway: "172.18.0.1", MacAddress: "02:42:ac:12:00:09",
				DNSNames: []string{"web", "www", "0123456789ab"}},
		},
		Ports: map[string][]enginecontainer.PortBinding{
			"80/tcp": {{HostIP: "0.0.0.0", HostPort: "32768"}, {HostIP: "127.0.0.1", HostPort: "8080"}},
			"53/udp": nil,
		},
	}
}

func TestContainerInspectNetworkSettings(t *testing.T) {
	ns := ContainerInspect(&engine.Info{Container: runningOnTwoNetworks()}).NetworkSettings

	// `docker port web 80` reads Ports["80/tcp"].
	if got := ns.Ports["80/tcp"]; len(got) != 2 || got[0] != (nat.PortBinding{HostIP: "0.0.0.0", HostPort: "32768"}) || got[1].HostPort != "8080" {
		t.Fatalf("80/tcp: %+v", got)
	}
	if got, ok := ns.Ports["53/udp"]; !ok || got != nil {
		t.Fatalf("exposed-only port must map to null: %v %v", got, ok)
	}
	f := ns.Networks["front"]
	if f.NetworkID != "a4a4" || f.EndpointID != "ep-f" || f.IPAddress != "172.18.0.9" || f.IPPrefixLen != 16 || f.Gateway != "172.18.0.1" ||
		f.MacAddress != "02:42:ac:12:00:09" || f.Aliases[0] != "www" || f.Links[0] != "/db:/web/db" || f.DriverOpts["k"] != "v" ||
		len(f.DNSNames) != 3 || f.IPAMConfig == nil || f.IPAMConfig.IPv4Address != "172.18.0.9" {
		t.Fatalf("front: %+v", f)
	}
	b := ns.Networks["bridge"]
	if b.IPAMConfig != nil || b.Aliases != nil || b.DNSNames != nil {
		t.Fatalf("bridge: %+v", b)
	}
	// The deprecated top-level fields come from the default bridge.
	if ns.IPAddress != "172.17.0.2" || ns.Gateway != "172.17.0.1" || ns.IPPrefixLen != 16 || ns.MacAddress != "02:42:ac:11:00:02" || ns.EndpointID != "ep-b" {
		t.Fatalf("default network settings: %+v", ns.DefaultNetworkSettings)
	}

	// Not running: no addresses, Ports {} (not null), endpoints kept.
	c := runningOnTwoNetworks()
	c.State = enginecontainer.State{Status: "exited"}
	c.Ports = nil
	c.Networks = map[string]*enginecontainer.Endpoint{"front": {NetworkID: "a4a4", Aliases: []string{"www"}}}
	raw, _ := json.Marshal(ContainerInspect(&engine.Info{Container: c}).NetworkSettings)
	for _, want := range []string{`"Ports":{}`, `"IPAddress":""`, `"NetworkID":"a4a4"`, `"Aliases":["www"]`, `"IPAMConfig":null`, `"SandboxKey":""`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("stopped container's NetworkSettings lacks %s: %s", want, raw)
		}
	}
}

func TestAddLegacyAliases(t *testing.T) {
	resp := ContainerInspect(&engine.Info{Container: runningOnTwoNetworks()})
	AddLegacyAliases(&resp)
	if got := resp.NetworkSettings.Networks["front"].Aliases; strings.Join(got, ",") != "www,0123456789ab" {
		t.Fatalf("front aliases: %v", got)
	}
	if got := resp.NetworkSettings.Networks["bridge"].Aliases; got != nil {
		t.Fatalf("bridge aliases: %v", got)
	}
}

func TestContainerSummaryPortsAndNetworks(t *testing.T) {
	s := ContainerSummary(engine.Summary{Container: runningOnTwoNetworks()}, time.Now())
	want := []container.Port{
		{PrivatePort: 53, Type: "udp"},
		{IP: "127.0.0.1", PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
		{IP: "0.0.0.0", PrivatePort: 80, PublicPort: 32768, Type: "tcp"},
	}
	if len(s.Ports) != len(want) {
		t.Fatalf("ports: %+v", s.Ports)
	}
	for i := range want {
		if s.Ports[i] != want[i] {
			t.Errorf("port %d: %+v, want %+v", i, s.Ports[i], want[i])
		}
	}
	raw, _ := json.Marshal(s.Ports[0])
	if string(raw) != `{"PrivatePort":53,"Type":"udp"}` {
		t.Errorf("exposed-only port JSON: %s", raw)
	}
	f := s.NetworkSettings.Networks["front"]
	if f == nil || f.IPAddress != "172.18.0.9" || f.NetworkID != "a4a4" || f.MacAddress == "" || f.IPAMConfig == nil ||
		f.Aliases != nil || f.DNSNames != nil || f.Links != nil || f.DriverOpts != nil {
		t.Fatalf("ps networks: %+v", f)
	}
	if s.HostConfig.NetworkMode != "bridge" {
		t.Fatalf("network mode %q", s.HostConfig.NetworkMode)
	}

	stopped := ContainerSummary(engine.Summary{Container: enginecontainer.Container{ID: testID, Name: "/x"}}, time.Now())
	if stopped.Ports == nil || len(stopped.Ports) != 0 || stopped.NetworkSettings.Networks == nil {
		t.Fatalf("stopped: %+v", stopped)
	}
}

func TestContainerListFilterNetworkAndPorts(t *testing.T) {
	f, _, err := ContainerListFilter(filters.NewArgs(
		filters.Arg("network", "front"), filters.Arg("publish", "8080"), filters.Arg("expose", "5000-5001/udp"),
	))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Networks, ",") != "front" || strings.Join(f.Publish, ",") != "8080/tcp" || strings.Join(f.Expose, ",") != "5000-5001/udp" {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []filters.Args{
		filters.NewArgs(filters.Arg("publish", "127.0.0.1:80")),
		filters.NewArgs(filters.Arg("expose", "http")),
	} {
		if _, _, err := ContainerListFilter(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// TestPortFilterRangesStayRanges checks that wide publish/expose ranges are
// not expanded to a key a port (10,000 of them would be 655 million keys).
func TestPortFilterRangesStayRanges(t *testing.T) {
	var kv []filters.KeyValuePair
	for i := 0; i < 10000; i++ {
		kv = append(kv, filters.Arg("publish", "1-65535/p"+strconv.Itoa(i)))
	}
	f, _, err := ContainerListFilter(filters.NewArgs(kv...))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Publish) != 10000 || !slices.Contains(f.Publish, "1-65535/p7") {
		t.Fatalf("%d publish keys, e.g. %v", len(f.Publish), f.Publish[:3])
	}
}

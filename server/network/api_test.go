package network_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	apievents "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/internal/apitest"
	containerrouter "github.com/pier-vm/pier/server/container"
	eventsrouter "github.com/pier-vm/pier/server/events"
	"github.com/pier-vm/pier/server/httputils"
	networkrouter "github.com/pier-vm/pier/server/network"
)

var _ networkrouter.Backend = (*engine.Containers)(nil)

type api struct {
	*apitest.API
	cli *client.Client
}

// newAPI serves the network, container and events routers over the fake
// runtime (the virtual switches and published ports are real) and returns
// a real Docker client talking to them.
func newAPI(t *testing.T) *api {
	t.Helper()
	a := apitest.New(t, func(c *engine.Containers, bus *events.Bus) []httputils.Router {
		return []httputils.Router{networkrouter.NewRouter(c), containerrouter.NewRouter(c), eventsrouter.NewRouter(bus)}
	})
	t.Cleanup(func() {
		// Stop what runs: published ports and switches are real.
		list, _ := a.Client.ContainerList(context.Background(), container.ListOptions{All: true})
		for _, s := range list {
			_ = a.Client.ContainerRemove(context.Background(), s.ID, container.RemoveOptions{Force: true})
		}
	})
	return &api{API: a, cli: a.Client}
}

func wantErr(t *testing.T, what string, err error, substr string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), substr) {
		t.Errorf("%s: got %v, want an error containing %q", what, err, substr)
	}
}

func TestCreateListInspectRemove(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()

	status, body := a.Do(t, "POST", "/v1.51/networks/create",
		`{"Name":"front","Driver":"bridge","CheckDuplicate":true,"Labels":{"tier":"web"},"Options":{"com.docker.network.driver.mtu":"1400"},`+
			`"Attachable":true,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.7.0.0/24","Gateway":"10.7.0.254"}]}}`)
	var created network.CreateResponse
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || len(created.ID) != 64 || !strings.Contains(body, `"Warning":""`) {
		t.Fatalf("create: %d %s", status, body)
	}
	internal, err := a.cli.NetworkCreate(ctx, "back", network.CreateOptions{Internal: true, Labels: map[string]string{"tier": "db"}})
	if err != nil {
		t.Fatal(err)
	}

	_, err = a.cli.NetworkCreate(ctx, "front", network.CreateOptions{})
	wantErr(t, "duplicate", err, "network with name front already exists")
	_, err = a.cli.NetworkCreate(ctx, "bridge", network.CreateOptions{})
	wantErr(t, "predefined", err, "operation is not permitted on predefined bridge network")
	_, err = a.cli.NetworkCreate(ctx, "x", network.CreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: "10.7.0.0/16"}}}})
	wantErr(t, "overlapping subnet", err, "overlaps")

	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1.51/networks/create", `{"Name":`, http.StatusBadRequest},
		{"POST", "/v1.51/networks/create", `{"Name":"a"} {"Name":"b"}`, http.StatusBadRequest},
		{"POST", "/v1.51/networks/create", `{"Name":"bad name"}`, http.StatusBadRequest},
		{"POST", "/v1.51/networks/create", `{"Name":"front"}`, http.StatusConflict},
		{"POST", "/v1.51/networks/create", `{"Name":"host"}`, http.StatusForbidden},
		{"POST", "/v1.51/networks/create", `{"Name":"o","Driver":"overlay"}`, http.StatusNotFound},
		{"GET", "/v1.51/networks?filters=%7B%22colour%22%3A%7B%22red%22%3Atrue%7D%7D", "", http.StatusBadRequest},
		{"GET", "/v1.51/networks/front?verbose=maybe", "", http.StatusBadRequest},
		{"GET", "/v1.51/networks/front?scope=swarm", "", http.StatusNotFound},
		{"GET", "/v1.51/networks/front?scope=local&verbose=true", "", http.StatusOK},
		{"GET", "/v1.51/networks/ghost", "", http.StatusNotFound},
		{"DELETE", "/v1.51/networks/bridge", "", http.StatusForbidden},
		{"DELETE", "/v1.51/networks/ghost", "", http.StatusNotFound},
		{"POST", "/v1.51/networks/prune?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D", "", http.StatusBadRequest},
	} {
		if got, body := a.Do(t, c.method, c.path, c.body); got != c.want {
			t.Errorf("%s %s %s = %d %s, want %d", c.method, c.path, c.body, got, body, c.want)
		}
	}

	nw, raw, err := a.cli.NetworkInspectWithRaw(ctx, "front", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if nw.ID != created.ID || nw.Name != "front" || nw.Driver != "bridge" || nw.Scope != "local" || !nw.Attachable || nw.Internal ||
		len(nw.IPAM.Config) != 1 || nw.IPAM.Config[0].Subnet != "10.7.0.0/24" || nw.IPAM.Config[0].Gateway != "10.7.0.254" ||
		nw.Labels["tier"] != "web" || nw.Options["com.docker.network.driver.mtu"] != "1400" || nw.Containers == nil {
		t.Fatalf("inspect: %s", raw)
	}
	if byPrefix, err := a.cli.NetworkInspect(ctx, created.ID[:8], network.InspectOptions{}); err != nil || byPrefix.Name != "front" {
		t.Fatalf("inspect by ID prefix: %+v %v", byPrefix, err)
	}
	if back, _ := a.cli.NetworkInspect(ctx, internal.ID, network.InspectOptions{}); !back.Internal || back.IPAM.Config[0].Subnet == "" {
		t.Fatalf("internal network: %+v", back)
	}
	_, err = a.cli.NetworkInspect(ctx, "ghost", network.InspectOptions{})
	wantErr(t, "inspect unknown", err, "network ghost not found")

	list := func(args ...filters.KeyValuePair) string {
		t.Helper()
		nets, err := a.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(args...)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range nets {
			names = append(names, n.Name)
		}
		return strings.Join(names, ",")
	}
	if got := list(); got != "bridge,host,none,front,back" {
		t.Errorf("list: %s", got)
	}
	for _, c := range []struct {
		args []filters.KeyValuePair
		want string
	}{
		{[]filters.KeyValuePair{filters.Arg("name", "front")}, "front"},
		{[]filters.KeyValuePair{filters.Arg("id", created.ID[:10])}, "front"},
		{[]filters.KeyValuePair{filters.Arg("label", "tier=db")}, "back"},
		{[]filters.KeyValuePair{filters.Arg("driver", "null")}, "none"},
		{[]filters.KeyValuePair{filters.Arg("type", "custom")}, "front,back"},
		{[]filters.KeyValuePair{filters.Arg("dangling", "true")}, "front,back"},
	} {
		if got := list(c.args...); got != c.want {
			t.Errorf("list %v: %s, want %s", c.args, got, c.want)
		}
	}

	if status, body := a.Do(t, "DELETE", "/v1.51/networks/"+internal.ID[:12], ""); status != http.StatusNoContent || body != "" {
		t.Fatalf("delete: %d %q", status, body)
	}
	if err := a.cli.NetworkRemove(ctx, "front"); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "bridge,host,none" {
		t.Errorf("after rm: %s", got)
	}
	err = a.cli.NetworkRemove(ctx, "none")
	wantErr(t, "rm none", err, "none is a pre-defined network and cannot be removed")
}

// TestContainerOnNetwork follows a container created on a user network
// with an alias, a fixed address and a published port: network inspect,
// container inspect (what `docker port` reads), ps and its network
// filter, rm refused while it runs, connect and disconnect.
func TestContainerOnNetwork(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	n, err := a.cli.NetworkCreate(ctx, "front", network.CreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: "10.7.0.0/24"}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.cli.ContainerCreate(ctx,
		&container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}, ExposedPorts: nat.PortSet{"80/tcp": {}, "53/udp": {}}},
		&container.HostConfig{NetworkMode: "front", PortBindings: nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "0"}}}},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"front": {Aliases: []string{"www"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "10.7.0.50"}},
		}}, nil, "web")
	if err != nil {
		t.Fatal(err)
	}
	id := res.ID

	// Created: the endpoint's configuration, no address, Ports {}.
	status, body := a.Do(t, "GET", "/v1.51/containers/web/json", "")
	if status != http.StatusOK || !strings.Contains(body, `"Ports":{}`) {
		t.Fatalf("created container: %d %s", status, body)
	}
	info, err := a.cli.ContainerInspect(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	ep := info.NetworkSettings.Networks["front"]
	if ep == nil || ep.NetworkID != n.ID || !slices.Equal(ep.Aliases, []string{"www"}) || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address != "10.7.0.50" || ep.IPAddress != "" {
		t.Fatalf("created endpoint: %+v", ep)
	}

	if err := a.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err = a.cli.ContainerInspect(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	ep = info.NetworkSettings.Networks["front"]
	if ep.IPAddress != "10.7.0.50" || ep.IPPrefixLen != 24 || ep.Gateway != "10.7.0.1" || ep.MacAddress != "02:42:0a:07:00:32" || ep.EndpointID == "" ||
		!slices.Contains(ep.DNSNames, "web") || !slices.Contains(ep.DNSNames, "www") {
		t.Fatalf("running endpoint: %+v", ep)
	}
	if info.NetworkSettings.IPAddress != "" {
		t.Errorf("not on the default bridge, yet IPAddress %q", info.NetworkSettings.IPAddress)
	}
	// `docker port web 80`: the CLI prints NetworkSettings.Ports["80/tcp"].
	bs := info.NetworkSettings.Ports[nat.Port("80/tcp")]
	if len(bs) != 1 || bs[0].HostIP != "127.0.0.1" {
		t.Fatalf("80/tcp: %+v", info.NetworkSettings.Ports)
	}
	hostPort, err := strconv.Atoi(bs[0].HostPort)
	if err != nil || hostPort == 0 {
		t.Fatalf("allocated host port %q", bs[0].HostPort)
	}
	if udp, ok := info.NetworkSettings.Ports["53/udp"]; !ok || udp != nil {
		t.Fatalf("53/udp: %v %v", udp, ok)
	}

	nw, err := a.cli.NetworkInspect(ctx, "front", network.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e := nw.Containers[id]; e.Name != "web" || e.IPv4Address != "10.7.0.50/24" || e.MacAddress != "02:42:0a:07:00:32" || e.EndpointID != ep.EndpointID {
		t.Fatalf("network's containers: %+v", nw.Containers)
	}
	nets, _ := a.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "front"))})
	if len(nets) != 1 || len(nets[0].Containers) != 0 {
		t.Fatalf("list must not carry containers (API 1.28+): %+v", nets)
	}
	if status, body := a.Do(t, "GET", "/v1.27/networks?filters=%7B%22name%22%3A%7B%22front%22%3Atrue%7D%7D", ""); status != http.StatusOK || !strings.Contains(body, id) {
		t.Fatalf("list on API 1.27 carries containers: %d %s", status, body)
	}
	if dangling, _ := a.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))}); len(dangling) != 0 {
		t.Fatalf("a used network is not dangling: %+v", dangling)
	}

	ps, err := a.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("network", "front"))})
	if err != nil || len(ps) != 1 || ps[0].ID != id {
		t.Fatalf("ps --filter network=front: %+v %v", ps, err)
	}
	want := []container.Port{{PrivatePort: 53, Type: "udp"}, {IP: "127.0.0.1", PrivatePort: 80, PublicPort: uint16(hostPort), Type: "tcp"}}
	if !slices.Equal(ps[0].Ports, want) || ps[0].NetworkSettings.Networks["front"].IPAddress != "10.7.0.50" || ps[0].HostConfig.NetworkMode != "front" {
		t.Fatalf("ps: %+v %+v", ps[0].Ports, ps[0].NetworkSettings.Networks["front"])
	}
	for _, f := range []filters.Args{
		filters.NewArgs(filters.Arg("network", "bridge")),
		filters.NewArgs(filters.Arg("publish", "1/tcp")),
		filters.NewArgs(filters.Arg("expose", "81")),
	} {
		if ps, err := a.cli.ContainerList(ctx, container.ListOptions{Filters: f}); err != nil || len(ps) != 0 {
			t.Errorf("ps %v: %+v %v", f, ps, err)
		}
	}
	for _, f := range []filters.Args{
		filters.NewArgs(filters.Arg("network", n.ID[:12])),
		filters.NewArgs(filters.Arg("publish", strconv.Itoa(hostPort))),
		filters.NewArgs(filters.Arg("expose", "53/udp")),
	} {
		if ps, err := a.cli.ContainerList(ctx, container.ListOptions{Filters: f}); err != nil || len(ps) != 1 {
			t.Errorf("ps %v: %+v %v", f, ps, err)
		}
	}

	// Before API 1.45 the short ID and hostname were aliases too.
	status, body = a.Do(t, "GET", "/v1.44/containers/web/json", "")
	if status != http.StatusOK || !strings.Contains(body, `"Aliases":["www","`+id[:12]+`"]`) {
		t.Fatalf("legacy aliases: %d %s", status, body)
	}

	err = a.cli.NetworkRemove(ctx, "front")
	wantErr(t, "rm used network", err, "has active endpoints")
	err = a.cli.NetworkConnect(ctx, "bridge", "web", nil)
	wantErr(t, "connect running", err, "running")

	// Connect and disconnect a container that does not run.
	idle, err := a.cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, nil, nil, nil, "idle")
	if err != nil {
		t.Fatal(err)
	}
	status, body = a.Do(t, "POST", "/v1.51/networks/front/connect", `{"Container":"idle","EndpointConfig":{"Aliases":["db"],"IPAMConfig":{"IPv4Address":"10.7.0.60"}}}`)
	if status != http.StatusOK || body != "" {
		t.Fatalf("connect: %d %q", status, body)
	}
	info, _ = a.cli.ContainerInspect(ctx, idle.ID)
	if ep := info.NetworkSettings.Networks["front"]; ep == nil || ep.Aliases[0] != "db" || ep.IPAMConfig.IPv4Address != "10.7.0.60" ||
		info.NetworkSettings.Networks["bridge"] == nil {
		t.Fatalf("connected: %+v", info.NetworkSettings.Networks)
	}
	err = a.cli.NetworkConnect(ctx, "front", "idle", nil)
	wantErr(t, "connect twice", err, "already exists")
	if err := a.cli.NetworkDisconnect(ctx, "front", "idle", false); err != nil {
		t.Fatal(err)
	}
	info, _ = a.cli.ContainerInspect(ctx, idle.ID)
	if _, ok := info.NetworkSettings.Networks["front"]; ok {
		t.Fatalf("still connected: %+v", info.NetworkSettings.Networks)
	}
	err = a.cli.NetworkDisconnect(ctx, "front", "idle", true)
	wantErr(t, "disconnect twice", err, "is not connected")
	err = a.cli.NetworkConnect(ctx, "front", "ghost", nil)
	wantErr(t, "connect unknown container", err, "No such container")
	err = a.cli.NetworkConnect(ctx, "ghost", "idle", nil)
	wantErr(t, "connect to unknown network", err, "network ghost not found")

	// Stopped: addresses and ports are gone, the network can go.
	if err := a.cli.ContainerStop(ctx, id, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	status, body = a.Do(t, "GET", "/v1.51/containers/web/json", "")
	if !strings.Contains(body, `"Ports":{}`) || !strings.Contains(body, `"IPAddress":""`) {
		t.Fatalf("stopped: %d %s", status, body)
	}
	if ps, _ := a.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", "web"))}); len(ps) != 1 || len(ps[0].Ports) != 0 {
		t.Fatalf("stopped ps ports: %+v", ps)
	}
}

func TestCreateWithEndpointsAndMAC(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	if _, err := a.cli.NetworkCreate(ctx, "front", network.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.cli.NetworkCreate(ctx, "back", network.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Two networks at create (API 1.44+), one by ID.
	back, _ := a.cli.NetworkInspect(ctx, "back", network.InspectOptions{})
	res, err := a.cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, &container.HostConfig{NetworkMode: "front"},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			"front":      {Aliases: []string{"api"}},
			back.ID[:12]: {Links: []string{"db:db"}, DriverOpts: map[string]string{"k": "v"}},
		}}, nil, "two")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := a.cli.ContainerInspect(ctx, res.ID)
	if f, b := info.NetworkSettings.Networks["front"], info.NetworkSettings.Networks["back"]; f == nil || b == nil || f.Aliases[0] != "api" ||
		b.NetworkID != back.ID || b.Links[0] != "db:db" || b.DriverOpts["k"] != "v" {
		t.Fatalf("endpoints: %+v", info.NetworkSettings.Networks)
	}
	_, err = a.cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, &container.HostConfig{NetworkMode: "ghost"}, nil, nil, "")
	wantErr(t, "unknown network", err, "network ghost not found")
	_, err = a.cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, nil,
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"bridge": {Aliases: []string{"x"}}}}, nil, "")
	wantErr(t, "alias on the default bridge", err, "network-scoped alias is supported only for containers in user defined networks")

	// Before 1.44 a single endpoint, and the container-wide MAC address.
	status, body := a.Do(t, "POST", "/v1.43/containers/create",
		`{"Image":"busybox","HostConfig":{"NetworkMode":"front"},"NetworkingConfig":{"EndpointsConfig":{"front":{},"back":{}}}}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "multiple network endpoints") {
		t.Fatalf("legacy two networks: %d %s", status, body)
	}
	status, body = a.Do(t, "POST", "/v1.43/containers/create?name=legacymac",
		`{"Image":"busybox","MacAddress":"02:42:ac:11:00:99","HostConfig":{"NetworkMode":"front"}}`)
	if status != http.StatusCreated {
		t.Fatalf("legacy MAC: %d %s", status, body)
	}
	info, _ = a.cli.ContainerInspect(ctx, "legacymac")
	if ep := info.NetworkSettings.Networks["front"]; ep == nil || ep.MacAddress != "02:42:ac:11:00:99" {
		t.Fatalf("legacy MAC endpoint: %+v", info.NetworkSettings.Networks)
	}
	status, body = a.Do(t, "POST", "/v1.51/containers/create",
		`{"Image":"busybox","MacAddress":"02:42:ac:11:00:98"}`)
	if status != http.StatusCreated || !strings.Contains(body, "container-wide MacAddress field is now deprecated") {
		t.Fatalf("deprecated MAC warning: %d %s", status, body)
	}
}

func TestPruneAndEvents(t *testing.T) {
	a := newAPI(t)
	ctx := context.Background()
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	for _, n := range []struct {
		name   string
		labels map[string]string
	}{
		{"tmp1", map[string]string{"tmp": "1"}}, {"tmp2", map[string]string{"tmp": "2"}}, {"keep", map[string]string{"keep": ""}}, {"used", map[string]string{"tmp": "1"}},
	} {
		if _, err := a.cli.NetworkCreate(ctx, n.name, network.CreateOptions{Labels: n.labels}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := a.cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, &container.HostConfig{NetworkMode: "used"}, nil, nil, "user")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cli.NetworkConnect(ctx, "tmp2", c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.cli.NetworkDisconnect(ctx, "tmp2", c.ID, false); err != nil {
		t.Fatal(err)
	}

	rep, err := a.cli.NetworksPrune(ctx, filters.NewArgs(filters.Arg("label", "tmp"), filters.Arg("label!", "tmp=2")))
	if err != nil || !slices.Equal(rep.NetworksDeleted, []string{"tmp1"}) {
		t.Fatalf("prune label: %+v %v", rep, err)
	}
	rep, err = a.cli.NetworksPrune(ctx, filters.NewArgs(filters.Arg("until", "1h")))
	if err != nil || len(rep.NetworksDeleted) != 0 {
		t.Fatalf("prune until 1h ago: %+v %v", rep, err)
	}
	status, body := a.Do(t, "POST", "/v1.51/networks/prune", "")
	if status != http.StatusOK || body != `{"NetworksDeleted":["tmp2","keep"]}`+"\n" {
		t.Fatalf("prune all: %d %s", status, body)
	}
	if nets, _ := a.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("type", "custom"))}); len(nets) != 1 || nets[0].Name != "used" {
		t.Fatalf("left: %+v", nets)
	}

	// Network events reach `docker events`, with dockerd's attributes.
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	msgs, errs := a.cli.Events(ctx, apievents.ListOptions{Since: since, Until: until, Filters: filters.NewArgs(filters.Arg("type", "network"))})
	var got []string
	for done := false; !done; {
		select {
		case m := <-msgs:
			if m.Type != apievents.NetworkEventType || m.Actor.ID == "" || m.Actor.Attributes["type"] != "bridge" || m.Scope != "local" {
				t.Errorf("event %+v", m)
			}
			e := string(m.Action) + " " + m.Actor.Attributes["name"]
			if m.Action == "connect" || m.Action == "disconnect" {
				if m.Actor.Attributes["container"] != c.ID {
					t.Errorf("%s without the container: %+v", e, m.Actor.Attributes)
				}
			}
			got = append(got, e)
		case err := <-errs:
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			done = true
		case <-time.After(5 * time.Second):
			t.Fatal("events did not end")
		}
	}
	slices.Sort(got)
	want := []string{"connect tmp2", "create keep", "create tmp1", "create tmp2", "create used", "destroy keep", "destroy tmp1", "destroy tmp2", "disconnect tmp2"}
	if !slices.Equal(got, want) {
		t.Fatalf("network events:\n got %v\nwant %v", got, want)
	}
	msgs, errs = a.cli.Events(ctx, apievents.ListOptions{Since: since, Until: until, Filters: filters.NewArgs(filters.Arg("network", "tmp1"))})
	n := 0
	for done := false; !done; {
		select {
		case <-msgs:
			n++
		case <-errs:
			done = true
		case <-time.After(5 * time.Second):
			t.Fatal("events did not end")
		}
	}
	if n != 2 {
		t.Fatalf("--filter network=tmp1: %d events, want create and destroy", n)
	}
}

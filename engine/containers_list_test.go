package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
)

// TestListFiltersNetworkPublishExpose covers `docker ps --filter
// network=|publish=|expose=`: network by name or ID prefix (stopped
// containers too), publish and expose from a running container's ports.
func TestListFiltersNetworkPublishExpose(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Name:       "onfront",
		Config:     container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}},
		HostConfig: container.HostConfig{NetworkMode: "front"},
	}); err != nil {
		t.Fatal(err)
	}
	web, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Name:   "web",
		Config: container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}, ExposedPorts: []string{"53/udp", "80/tcp"}},
		HostConfig: container.HostConfig{PortBindings: map[string][]container.PortBinding{
			"80/tcp": {{HostIP: "127.0.0.1", HostPort: ""}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(ctx, web.ID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.c.ContainerRemove(context.Background(), web.ID, engine.RemoveOptions{Force: true}) })
	info, err := f.c.ContainerInspect(web.ID)
	if err != nil {
		t.Fatal(err)
	}
	bs := info.Ports["80/tcp"]
	if len(bs) != 1 || bs[0].HostIP != "127.0.0.1" || bs[0].HostPort == "" || bs[0].HostPort == "0" {
		t.Fatalf("published 80/tcp: %+v", info.Ports)
	}
	hostPort := bs[0].HostPort

	names := func(flt engine.ListFilter) string {
		t.Helper()
		list, err := f.c.ContainerList(engine.ListOptions{All: true, Filter: flt})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, strings.TrimPrefix(s.Name, "/"))
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	cases := []struct {
		flt  engine.ListFilter
		want string
	}{
		{engine.ListFilter{Networks: []string{"front"}}, "onfront"},
		{engine.ListFilter{Networks: []string{n.ID[:6]}}, "onfront"},
		{engine.ListFilter{Networks: []string{"bridge"}}, "web"},
		{engine.ListFilter{Networks: []string{"bridge", "front"}}, "onfront,web"},
		{engine.ListFilter{Networks: []string{"back"}}, ""},
		{engine.ListFilter{Publish: []string{hostPort + "/tcp"}}, "web"},
		{engine.ListFilter{Publish: []string{hostPort + "/udp"}}, ""},
		{engine.ListFilter{Expose: []string{"80/tcp"}}, "web"},
		{engine.ListFilter{Expose: []string{"53/udp"}}, "web"},
		{engine.ListFilter{Expose: []string{"53/tcp"}}, ""},
		{engine.ListFilter{Expose: []string{"81/tcp"}, Publish: []string{hostPort + "/tcp"}}, "web"},
		{engine.ListFilter{Expose: []string{"1-65535/tcp"}}, "web"},
		{engine.ListFilter{Expose: []string{"50-60/udp"}}, "web"},
		{engine.ListFilter{Expose: []string{"81-65535/tcp", "1-79/tcp"}}, ""},
		{engine.ListFilter{Publish: []string{"1-65535/tcp"}}, "web"},
		{engine.ListFilter{Publish: []string{"1-65535/udp"}}, ""},
	}
	for _, c := range cases {
		if got := names(c.flt); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.flt, got, c.want)
		}
	}
}

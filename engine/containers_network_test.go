package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// Endpoint resolution at create: "default" names the bridge (the CLI sends
// it as NetworkMode and as an EndpointsConfig key), a network may be named
// by ID, and dockerd's refusals are kept.
func TestCreateResolvesEndpoints(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n1, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	create := func(mode string, eps map[string]*container.Endpoint) (*engine.Info, error) {
		t.Helper()
		res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
			Config:     container.Config{Image: "busybox", Cmd: []string{"true"}},
			HostConfig: container.HostConfig{NetworkMode: mode},
			Endpoints:  eps,
		})
		if err != nil {
			return nil, err
		}
		return f.c.ContainerInspect(res.ID)
	}
	info, err := create("default", map[string]*container.Endpoint{"default": {}})
	if err != nil {
		t.Fatal(err)
	}
	if info.HostConfig.NetworkMode != "bridge" || len(info.Networks) != 1 || info.Networks["bridge"] == nil {
		t.Fatalf("default: mode %q, networks %v", info.HostConfig.NetworkMode, info.Networks)
	}
	info, err = create(n1.ID, map[string]*container.Endpoint{n1.ID[:12]: {Aliases: []string{"svc"}, MacAddress: "02:00:00:00:00:07"}})
	if err != nil {
		t.Fatal(err)
	}
	ep := info.Networks["n1"]
	if info.HostConfig.NetworkMode != "n1" || ep == nil || ep.Aliases[0] != "svc" || ep.MacAddress != "02:00:00:00:00:07" || ep.DesiredMacAddress != "02:00:00:00:00:07" {
		t.Fatalf("by ID: mode %q, endpoint %+v", info.HostConfig.NetworkMode, ep)
	}
	for _, c := range []struct {
		mode string
		eps  map[string]*container.Endpoint
		want func(error) bool
	}{
		{"nosuch", nil, errdefs.IsNotFound},
		{"container:abc", nil, func(err error) bool { return errdefs.KindOf(err) == errdefs.KindNotImplemented }},
		{"bridge", map[string]*container.Endpoint{"bridge": {Aliases: []string{"x"}}}, errdefs.IsInvalidParameter},
		{"bridge", map[string]*container.Endpoint{"bridge": {IPv4Address: "172.17.0.9"}}, errdefs.IsInvalidParameter},
		{"n1", map[string]*container.Endpoint{"n1": {IPv4Address: "10.0.0.1"}}, errdefs.IsInvalidParameter},
		{"host", map[string]*container.Endpoint{"n1": {}}, errdefs.IsInvalidParameter},
	} {
		if _, err := create(c.mode, c.eps); err == nil || !c.want(err) {
			t.Errorf("create mode %q eps %v: %v", c.mode, c.eps, err)
		}
	}
}

// A new network's name may equal another network's ID prefix (only names
// clash), and concurrent creates never share a subnet.
func TestNetworkCreateNamesAndConcurrentSubnets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n1, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: n1.ID[:8]}); err != nil {
		t.Fatalf("a name that is another network's ID prefix: %v", err)
	}
	if _, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "n1"}); !errdefs.IsConflict(err) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "clash", IPAM: []engine.IPAMPool{{Subnet: n1.Subnet.String()}}}); !errdefs.IsForbidden(err) {
		t.Fatalf("overlapping subnet: %v", err)
	}
	var wg sync.WaitGroup
	subnets := make([]string, 6)
	for i := range subnets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: fmt.Sprintf("c%d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			subnets[i] = n.Subnet.String()
		}()
	}
	wg.Wait()
	seen := map[string]bool{n1.Subnet.String(): true}
	for _, s := range subnets {
		if seen[s] {
			t.Fatalf("subnet %s given twice: %v", s, subnets)
		}
		seen[s] = true
	}
}

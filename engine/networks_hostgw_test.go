package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/fakeruntime"
)

// The HostGateways hook hears every switched network's gateway at start
// and whenever a network comes or goes; a failing hook fails nothing.
func TestHostGatewaysFollowTheNetworks(t *testing.T) {
	var calls [][]netip.Addr
	hook := func(gws []netip.Addr) error {
		calls = append(calls, gws)
		return errors.New("no CAP_NET_ADMIN")
	}
	last := func() string {
		if len(calls) == 0 {
			return "no call"
		}
		return fmt.Sprint(calls[len(calls)-1])
	}
	c, err := engine.NewContainers(engine.ContainersConfig{Root: t.TempDir(), Runtime: fakeruntime.New(), Images: fakeruntime.NewImages(), Events: events.NewBus(), HostGateways: hook})
	if err != nil {
		t.Fatal(err)
	}
	if got := last(); got != "[172.17.0.1]" {
		t.Fatalf("at start: %s", got)
	}
	ctx := context.Background()
	n, err := c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := last(), fmt.Sprint([]netip.Addr{netip.MustParseAddr("172.17.0.1"), n.Gateway}); got != want && got != fmt.Sprint([]netip.Addr{n.Gateway, netip.MustParseAddr("172.17.0.1")}) {
		t.Fatalf("after create: %s, want %s", got, want)
	}
	if err := c.NetworkRemove(ctx, "front"); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != "[172.17.0.1]" {
		t.Fatalf("after remove: %s", got)
	}
	if _, err := c.NetworkCreate(ctx, engine.NetworkCreateRequest{Name: "back"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkPrune(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != "[172.17.0.1]" {
		t.Fatalf("after prune: %s", got)
	}
}

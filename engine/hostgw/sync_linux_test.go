package hostgw

import (
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// inFreshNetns runs f on a locked thread in a new network namespace, so the
// test changes nothing on the host.
func inFreshNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CAP_NET_ADMIN) and CI runs as root")
		}
		t.Skip("needs root: creates a TUN device in a private network namespace")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The thread is never unlocked: it ends with the goroutine, and
		// its namespace with it.
		runtime.LockOSThread()
		if _, err := netns.New(); err != nil {
			t.Errorf("new netns: %v", err)
			return
		}
		f()
	}()
	<-done
}

func TestSyncPutsGatewaysOnTheHostAndTakesThemBack(t *testing.T) {
	gw1, gw2 := netip.MustParseAddr("172.17.0.1"), netip.MustParseAddr("172.29.0.1")
	inFreshNetns(t, func() {
		if err := Sync([]netip.Addr{gw1, gw2}); err != nil {
			t.Errorf("Sync: %v", err)
			return
		}
		for _, a := range []netip.Addr{gw1, gw2} {
			if ok, err := Local(a); err != nil || !ok {
				t.Errorf("%s local = %v, %v; want true", a, ok, err)
			}
		}
		// Idempotent, and a network that went takes its gateway along.
		if err := Sync([]netip.Addr{gw1}); err != nil {
			t.Errorf("second Sync: %v", err)
			return
		}
		if ok, _ := Local(gw2); ok {
			t.Errorf("%s still local after its network went", gw2)
		}
		if ok, _ := Local(gw1); !ok {
			t.Errorf("%s lost", gw1)
		}
	})
}

package network

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vnet/netd"
)

// openWithHelpers opens the registry at root with datapaths in helper
// processes (this test binary, see TestMain).
func openWithHelpers(t *testing.T, root string) *Registry {
	t.Helper()
	r, err := Open(filepath.Join(root, "networks.json"), WithHelpers(filepath.Join(root, "networks"), os.Args[0]))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// helperPid is the pid of network id's helper (0: none answers).
func helperPid(root, id string) int {
	c, err := netd.Connect(context.Background(), filepath.Join(root, "networks", id))
	if err != nil {
		return 0
	}
	return c.Pid()
}

// A network's helper outlives a registry that lets go of it, is taken
// over by the next one (a restarted pierd) with its published ports, is
// stopped when idle, and a removed network's helper and directory go.
func TestRegistryHelpersOutliveTheDaemon(t *testing.T) {
	root := t.TempDir()
	r := openWithHelpers(t, root)
	t.Cleanup(func() { openWithHelpers(t, root).Close() })
	front := addNetwork(t, r, "front1", "front", "172.20.0.0/16")
	back := addNetwork(t, r, "back1", "back", "172.21.0.0/16")
	sw, _, err := r.SwitchFor(front.ID)
	if err != nil {
		t.Fatal(err)
	}
	pid := helperPid(root, front.ID)
	if pid == 0 || pid == os.Getpid() {
		t.Fatalf("no helper process for front (pid %d)", pid)
	}
	f, err := sw.Attach(false)
	if err != nil {
		t.Fatal(err)
	}
	if typ, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_TYPE); err != nil || typ != syscall.SOCK_STREAM {
		t.Fatalf("attached socket type %d, %v", typ, err)
	}
	f.Close()
	web, _, err := r.Allocate(front.ID, "c-web", "", []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	host, err := sw.Publish("c-web", "tcp", "127.0.0.1:0", netip.AddrPortFrom(web, 80))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Publish("c-gone", "tcp", "127.0.0.1:0", netip.AddrPortFrom(web, 81)); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Publish("c-web", "tcp", host.String(), netip.AddrPortFrom(web, 80)); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("a port in use through a helper: %v, want EADDRINUSE", err)
	}
	if _, _, err := r.SwitchFor(back.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Allocate(back.ID, "c-back", "", nil); err != nil {
		t.Fatal(err)
	}
	backPid := helperPid(root, back.ID)
	idle := addNetwork(t, r, "idle1", "idle", "172.22.0.0/16")
	if _, _, err := r.SwitchFor(idle.ID); err != nil {
		t.Fatal(err)
	}
	idlePid := helperPid(root, idle.ID)

	// The daemon goes, leaving the helpers of networks with containers:
	// the port still listens. A helper serving nobody stops.
	r.Disconnect()
	if helperPid(root, front.ID) != pid || helperPid(root, back.ID) != backPid {
		t.Fatal("the helpers did not outlive the registry")
	}
	waitGone(t, idlePid)
	c, err := net.DialTimeout("tcp", host.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("the published port died with the registry: %v", err)
	}
	c.Close()

	// A stale directory of a network that no longer exists.
	stale := filepath.Join(root, "networks", "gone0")
	os.MkdirAll(stale, 0o700)

	// The next daemon takes the helpers over.
	r2 := openWithHelpers(t, root)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a removed network's directory was kept: %v", err)
	}
	sw2, _, err := r2.SwitchFor(front.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := helperPid(root, front.ID); got != pid {
		t.Fatalf("a new helper was started: %d, want %d", got, pid)
	}
	pubs, err := sw2.Publications("c-web")
	if err != nil || len(pubs) != 1 || pubs[0].Host != host || pubs[0].Proto != "tcp" {
		t.Fatalf("publications after the restart: %+v, %v", pubs, err)
	}
	// c-web came back (its endpoint recorded again), c-gone and c-back
	// did not: back has nobody.
	if err := r2.Readopt(front.ID, "c-web", "ep-web", web, []string{"web"}); err != nil {
		t.Fatal(err)
	}
	r2.StopIdle()
	if all, err := sw2.Publications(""); err != nil || len(all) != 1 || all[0].Owner != "c-web" {
		t.Fatalf("publications after StopIdle: %+v, %v", all, err)
	}
	waitGone(t, backPid)
	if helperPid(root, back.ID) != 0 {
		t.Fatal("an idle network's helper still runs")
	}
	if helperPid(root, front.ID) != pid {
		t.Fatal("a busy network's helper was stopped")
	}

	// Removing a network stops its helper and removes its directory.
	r2.Release("c-web")
	if err := r2.Remove(front.ID); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(filepath.Join(root, "networks", front.ID)); !os.IsNotExist(err) {
		t.Fatalf("a removed network's helper directory: %v", err)
	}

	// Close stops every helper.
	if _, _, err := r2.SwitchFor(back.ID); err != nil {
		t.Fatal(err)
	}
	backPid = helperPid(root, back.ID)
	r2.Close()
	waitGone(t, backPid)
}

// A helper that died is started again by the next SwitchFor.
func TestRegistryRestartsADeadHelper(t *testing.T) {
	root := t.TempDir()
	r := openWithHelpers(t, root)
	t.Cleanup(r.Close)
	n := addNetwork(t, r, "front1", "front", "172.20.0.0/16")
	if _, _, err := r.SwitchFor(n.ID); err != nil {
		t.Fatal(err)
	}
	pid := helperPid(root, n.ID)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	sw, _, err := r.SwitchFor(n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := helperPid(root, n.ID); got == 0 || got == pid {
		t.Fatalf("helper pid %d after the old one (%d) died", got, pid)
	}
	f, err := sw.Attach(true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// waitGone waits until process pid has ended.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A config write that a killed pierd did not finish, in the directory of a
// network whose helper does not run, is gone once the next registry opens,
// before any container asks for that network's switch.
func TestRegistrySweepsAHalfWrittenHelperConfig(t *testing.T) {
	root := t.TempDir()
	r := openWithHelpers(t, root)
	n := addNetwork(t, r, "front1", "front", "172.20.0.0/16")
	r.Close()
	dir := filepath.Join(root, "networks", n.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".tmp-config.json123456")
	if err := os.WriteFile(stale, []byte(`{"subn`), 0o600); err != nil {
		t.Fatal(err)
	}
	r2 := openWithHelpers(t, root)
	t.Cleanup(r2.Close)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("half-written config still there after Open: %v", err)
	}
}

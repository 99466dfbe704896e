package vz

import (
	"context"
	"github.com/pier-vm/pier/internal/sockpath"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pier-vm/pier/errdefs"
	"golang.org/x/sys/unix"
)

// testLauncher runs this test binary as the shim (see TestMain).
func testLauncher(t *testing.T) *launcher {
	t.Setenv("PIER_VZ_FAKE_SHIM", "1")
	l := &launcher{options: defaultOptions()}
	l.shimBinary = os.Args[0]
	l.startTimeout = 20 * time.Second
	return l
}

// echo checks the agent channel end to end: the handshake and a ping
// through agent.sock, the shim's bridge and the fake guest's vsock agent.
func echo(t *testing.T, m *machine, _ string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := m.DialAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ping(t, c).Close()
}

func waitDone(t *testing.T, m *machine) {
	t.Helper()
	select {
	case <-m.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("machine not done")
	}
}

// TestShimLifecycle: Start spawns a shim in its own session, the agent
// channel works (twice), a second daemon attaches, Kill ends everything and
// the runtime files are gone.
func TestShimLifecycle(t *testing.T) {
	l := testLauncher(t)
	spec := testSpec(t)
	m, err := l.start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	if sid, _ := unix.Getsid(m.Pid()); sid != m.Pid() {
		t.Errorf("shim %d is not a session leader (sid %d)", m.Pid(), sid)
	}
	echo(t, m, "one")
	echo(t, m, "two")

	other, err := l.attach(context.Background(), spec.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if other.Pid() != m.Pid() || other.ID() != spec.ID {
		t.Fatalf("attached to %d/%s, want %d/%s", other.Pid(), other.ID(), m.Pid(), spec.ID)
	}
	echo(t, other, "three")

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, m)
	if m.Err() != errKilled {
		t.Fatalf("Err after Kill: %v", m.Err())
	}
	waitDone(t, other)
	if other.Err() == nil || !strings.Contains(other.Err().Error(), "stopped hard") {
		t.Fatalf("attached machine's Err: %v", other.Err())
	}
	for _, n := range []string{shimFileName, controlSockName, agentSockName, shimPidName} {
		if _, err := os.Stat(filepath.Join(spec.StateDir, n)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", n, err)
		}
	}
	if _, err := l.attach(context.Background(), spec.StateDir); !errdefs.IsNotFound(err) {
		t.Fatalf("attach after the end: %v", err)
	}
	if err := m.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
}

// TestShimPowerOff: a guest power-off (control "stop") ends the machine
// with a nil Err; the StateDir is long enough to need the short link.
func TestShimPowerOff(t *testing.T) {
	l := testLauncher(t)
	spec := testSpec(t)
	spec.StateDir = filepath.Join(spec.StateDir, strings.Repeat("s", 100))
	m, err := l.start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	if !strings.HasPrefix(m.agentPath, sockpath.LinkPath(spec.StateDir)) {
		t.Fatalf("agent socket %s does not use the short link", m.agentPath)
	}
	echo(t, m, "long")
	if _, err := callControl(context.Background(), m.ctlPath, opStop); err != nil {
		t.Fatal(err)
	}
	waitDone(t, m)
	if m.Err() != nil {
		t.Fatalf("Err after power-off: %v", m.Err())
	}
	if _, err := os.Lstat(sockpath.LinkPath(spec.StateDir)); !os.IsNotExist(err) {
		t.Fatalf("short link left behind: %v", err)
	}
}

// TestShimBootFailure: a VM that cannot boot makes Start fail with the
// shim's reason.
func TestShimBootFailure(t *testing.T) {
	l := testLauncher(t)
	spec := testSpec(t)
	spec.Cmdline = "fail-boot"
	_, err := l.start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "fake boot failed on purpose") {
		t.Fatalf("got %v", err)
	}
}

// TestShimKilledFromOutside: when the shim dies without a word, the
// machine ends with an error saying so.
func TestShimKilledFromOutside(t *testing.T) {
	l := testLauncher(t)
	m, err := l.start(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	syscall.Kill(m.Pid(), syscall.SIGKILL)
	waitDone(t, m)
	if m.Err() == nil || !strings.Contains(m.Err().Error(), "ended without reporting") {
		t.Fatalf("got %v", m.Err())
	}
}

// TestShimSIGTERM: a SIGTERM'd shim powers the guest off through its
// agent (a clean end); a guest that ignores the request and a hard stop
// that never completes do not keep the shim alive: it exits after its
// bounded waits and records that the VM did not stop.
func TestShimSIGTERM(t *testing.T) {
	t.Setenv("PIER_VZ_FAKE_FAST_STOP", "1")
	l := testLauncher(t)
	for _, c := range []struct{ cmdline, wantErr string }{
		{"", ""},
		{"ignore-shutdown kill-hangs", "the vm did not stop"},
	} {
		spec := testSpec(t)
		spec.Cmdline = c.cmdline
		m, err := l.start(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, m, "up")
		start := time.Now()
		if err := syscall.Kill(m.Pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitDone(t, m)
		if took := time.Since(start); took > 8*time.Second {
			t.Errorf("%q: the shim took %v to end", c.cmdline, took)
		}
		got := errString(m.Err())
		if (c.wantErr == "" && got != "") || !strings.Contains(got, c.wantErr) {
			t.Errorf("%q: machine ended with %q, want %q", c.cmdline, got, c.wantErr)
		}
	}
}

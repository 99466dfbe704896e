package vz

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func serveFake(t *testing.T) (string, *fakeVM, <-chan struct{}) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	v := newFakeVM("")
	answered := serveControl(l, v, 42, func() { go stopVM(v, defaultStopTimes, nil, slog.Default()) })
	t.Cleanup(func() { l.Close() })
	return path, v, answered
}

func TestControlState(t *testing.T) {
	path, _, _ := serveFake(t)
	resp, err := callControl(context.Background(), path, opState)
	if err != nil || resp.State != stateRunning || resp.Pid != 42 {
		t.Fatalf("got %+v, %v", resp, err)
	}
	if _, err := callControl(context.Background(), path, "reboot"); err == nil || !strings.Contains(err.Error(), `unknown operation "reboot"`) {
		t.Fatalf("unknown op: %v", err)
	}
}

// TestControlWait: wait answers only once the VM ended, with why.
func TestControlWait(t *testing.T) {
	path, v, _ := serveFake(t)
	got := make(chan controlResponse, 1)
	go func() {
		resp, err := callControl(context.Background(), path, opWait)
		if err != nil {
			t.Error(err)
		}
		got <- resp
	}()
	select {
	case r := <-got:
		t.Fatalf("wait answered while running: %+v", r)
	case <-time.After(100 * time.Millisecond):
	}
	resp, err := callControl(context.Background(), path, opKill)
	if err != nil || resp.State != stateStopped || resp.Exit != "stopped hard" {
		t.Fatalf("kill: %+v, %v", resp, err)
	}
	select {
	case r := <-got:
		if r.State != stateStopped || r.Exit != "stopped hard" {
			t.Fatalf("wait: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait not answered after kill")
	}
	if !isClosed(v.done) {
		t.Fatal("vm not ended")
	}
}

func TestControlStopAndCancel(t *testing.T) {
	path, _, _ := serveFake(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := callControl(ctx, path, opWait); err != context.DeadlineExceeded {
		t.Fatalf("cancelled wait: %v", err)
	}
	// stop answers at once; the guest then powers off through its agent
	// (a clean end: no Exit).
	if _, err := callControl(context.Background(), path, opStop); err != nil {
		t.Fatalf("stop: %v", err)
	}
	resp, err := callControl(context.Background(), path, opWait)
	if err != nil || resp.State != stateStopped || resp.Exit != "" {
		t.Fatalf("wait after stop: %+v, %v", resp, err)
	}
}

func TestShimInfo(t *testing.T) {
	dir := t.TempDir()
	if err := writeShimInfo(dir, 7); err != nil {
		t.Fatal(err)
	}
	info, err := readShimInfo(dir)
	if err != nil || info.Pid != 7 || info.Control != controlSockName || info.Agent != agentSockName {
		t.Fatalf("got %+v, %v", info, err)
	}
}

func TestExitRecord(t *testing.T) {
	dir := t.TempDir()
	if _, ok := readExitRecord(dir); ok {
		t.Fatal("record without a file")
	}
	for _, vmErr := range []error{nil, context.Canceled} {
		if err := writeExitRecord(dir, vmErr); err != nil {
			t.Fatal(err)
		}
		exit, ok := readExitRecord(dir)
		if !ok || exit != errString(vmErr) {
			t.Fatalf("got %q, %v for %v", exit, ok, vmErr)
		}
	}
}

// TestControlPauseResume: the machine pauses and resumes its VM through
// the shim's control socket.
func TestControlPauseResume(t *testing.T) {
	path, v, _ := serveFake(t)
	m := &machine{id: "m", ctlPath: path}
	if err := m.Pause(context.Background()); err != nil || !v.paused.Load() {
		t.Fatalf("pause: %v, paused %v", err, v.paused.Load())
	}
	if resp, err := callControl(context.Background(), path, opState); err != nil || resp.State != "paused" {
		t.Fatalf("state while paused: %+v, %v", resp, err)
	}
	if err := m.Resume(context.Background()); err != nil || v.paused.Load() {
		t.Fatalf("resume: %v, paused %v", err, v.paused.Load())
	}
}

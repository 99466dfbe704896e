package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

func TestRosettaAvailability(t *testing.T) {
	for _, c := range []struct {
		err  error
		want emulation.RosettaAvailability
	}{
		{nil, emulation.RosettaInstalled},
		{errdefs.Unavailable(errors.New("not installed")), emulation.RosettaNotInstalled},
		{errdefs.NotImplemented(errors.New("needs Apple silicon")), emulation.RosettaUnsupported},
	} {
		if got := rosettaAvailability(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}

// fakeMachine is a VM left running by a previous daemon.
type fakeMachine struct {
	id     string
	killed bool
}

func (m *fakeMachine) ID() string                                  { return m.id }
func (m *fakeMachine) Pid() int                                    { return 4242 }
func (m *fakeMachine) DialAgent(context.Context) (net.Conn, error) { return nil, errors.New("fake") }
func (m *fakeMachine) Done() <-chan struct{}                       { return nil }
func (m *fakeMachine) Err() error                                  { return nil }
func (m *fakeMachine) Kill() error                                 { m.killed = true; return nil }

// attachingDriver answers Attach from a table of state directories.
type attachingDriver struct {
	running  map[string]*fakeMachine // by state dir
	attached []string
}

func (d *attachingDriver) Name() string  { return "fake" }
func (d *attachingDriver) Accel() string { return "none" }
func (d *attachingDriver) Start(context.Context, vm.Spec) (vm.Machine, error) {
	return nil, errors.New("not here")
}

func (d *attachingDriver) Attach(_ context.Context, dir string) (vm.Machine, error) {
	d.attached = append(d.attached, filepath.Base(filepath.Dir(dir)))
	if m := d.running[dir]; m != nil {
		return m, nil
	}
	if strings.Contains(dir, "broken") {
		return nil, errors.New("spec.json: bad version")
	}
	return nil, errdefs.NotFound(errors.New("no shim runs there"))
}

// plainDriver cannot reattach (as the QEMU driver).
type plainDriver struct{}

func (plainDriver) Name() string  { return "plain" }
func (plainDriver) Accel() string { return "none" }
func (plainDriver) Start(context.Context, vm.Spec) (vm.Machine, error) {
	return nil, errors.New("not here")
}

func TestStopLeftoverVMs(t *testing.T) {
	root := t.TempDir()
	dir := func(id string) string {
		d := filepath.Join(root, id, "vm")
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	left := &fakeMachine{id: "aaa"}
	drv := &attachingDriver{running: map[string]*fakeMachine{dir("aaa"): left}}
	dir("bbb")                                     // stopped cleanly: nothing runs
	dir("broken")                                  // unreadable: warned about, skipped
	os.MkdirAll(filepath.Join(root, "ccc"), 0o700) // never started: no vm dir

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if n := stopLeftoverVMs(context.Background(), drv, root, nil, log); n != 1 {
		t.Errorf("stopped %d, want 1", n)
	}
	if !left.killed {
		t.Error("the leftover VM still runs")
	}
	if !slices.Equal(drv.attached, []string{"aaa", "bbb", "broken"}) {
		t.Errorf("attached %v", drv.attached)
	}

	// A driver without Attach is left alone.
	if n := stopLeftoverVMs(context.Background(), plainDriver{}, root, nil, log); n != 0 {
		t.Errorf("plain driver: %d", n)
	}
}

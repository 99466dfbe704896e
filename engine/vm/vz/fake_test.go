package vz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMain lets the test binary act as the shim: `<test binary> vz-shim
// --state-dir DIR` with PIER_VZ_FAKE_SHIM=1 runs runShim over fakeBoot.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "vz-shim" && os.Args[2] == "--state-dir" && os.Getenv("PIER_VZ_FAKE_SHIM") == "1" {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := runShim(context.Background(), os.Args[3], fakeBoot, log); err != nil {
			fmt.Fprintln(os.Stderr, "shim:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeVM stands in for a VM: its "guest" echoes the agent channel. Its
// behaviour comes from the Spec's Cmdline: "fail-boot" makes boot fail.
type fakeVM struct {
	once   sync.Once
	done   chan struct{}
	err    error
	paused atomic.Bool
}

func fakeBoot(_ context.Context, cfg shimConfig, port guestPort) (controller, error) {
	if strings.Contains(cfg.Spec.Cmdline, "fail-boot") {
		return nil, errors.New("fake boot failed on purpose")
	}
	v := &fakeVM{done: make(chan struct{})}
	go func() { _, _ = io.Copy(port.GuestWrites, port.GuestReads) }()
	return v, nil
}

func (v *fakeVM) end(err error) {
	v.once.Do(func() {
		v.err = err
		close(v.done)
	})
}

func (v *fakeVM) State() string {
	if isClosed(v.done) {
		return stateStopped
	}
	if v.paused.Load() {
		return "paused"
	}
	return stateRunning
}

// Pause and Resume flip the state the shim reports.
func (v *fakeVM) Pause() error { v.paused.Store(true); return nil }

func (v *fakeVM) Resume() error { v.paused.Store(false); return nil }

// RequestStop powers the guest off cleanly.
func (v *fakeVM) RequestStop() error { v.end(nil); return nil }

// Kill stops it hard.
func (v *fakeVM) Kill() error { v.end(errors.New("stopped hard")); return nil }

func (v *fakeVM) Done() <-chan struct{} { return v.done }

func (v *fakeVM) Err() error {
	if !isClosed(v.done) {
		return nil
	}
	return v.err
}

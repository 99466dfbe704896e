package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// goneRuntime is a runtime that can adopt, whose sandboxes all ended while
// the daemon was away with code.
type goneRuntime struct {
	engine.Runtime
	code int
}

func (g goneRuntime) Adopt(context.Context, engine.AdoptRequest) (engine.Sandbox, error) {
	return nil, &engine.SandboxGoneError{Status: &engine.ExitStatus{Code: g.code, ExitedAt: time.Now()}, Reason: "ended while away"}
}

// A daemon with live restore records a container whose VM ended while no
// daemon ran with the code its guest recorded, and removes one run with
// --rm, as the run's own end would have.
func TestContainersThatEndedWhileTheDaemonWasAway(t *testing.T) {
	f := newFixture(t)
	kept := f.createCfg(t, "kept", container.Config{Cmd: []string{"sleep", "inf"}}, container.HostConfig{})
	rm := f.createCfg(t, "rm", container.Config{Cmd: []string{"sleep", "inf"}}, container.HostConfig{AutoRemove: true})
	for _, id := range []string{kept, rm} {
		if err := f.c.ContainerStart(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	// The first daemon dies: its store says both run.
	c, err := engine.NewContainers(engine.ContainersConfig{Root: f.root, Runtime: goneRuntime{Runtime: f.rt, code: 3}, Images: f.images, Events: f.bus, LiveRestore: true})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.ContainerInspect(kept)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Status != container.StatusExited || info.State.ExitCode != 3 || info.State.Error != "" {
		t.Fatalf("kept after the restart: %+v", info.State)
	}
	if _, err := c.ContainerInspect(rm); !errdefs.IsNotFound(err) {
		t.Fatalf("the --rm container after the restart: %v", err)
	}
}

// A writable disk that a killed daemon was still writing (never linked
// into place) is gone when the next daemon loads its containers.
func TestUnfinishedWritableDiskIsSweptAtLoad(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "torn", container.Config{Cmd: []string{"true"}}, container.HostConfig{})
	torn := filepath.Join(f.root, id, ".tmp-rw.img123456")
	if err := os.WriteFile(torn, []byte("half an ext4"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.reopen(t)
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("unfinished writable disk still there: %v", err)
	}
}

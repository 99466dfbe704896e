package engine_test

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/image"
)

// recordingImages answers Remove and Prune by asking the engine's in-use
// callbacks, so a test sees what the engine told the image service.
type recordingImages struct {
	*fakeruntime.Images
	removeInUse func(string) (string, bool)
	pruneInUse  func(string) bool
}

func (r *recordingImages) Remove(_ string, opts image.RemoveOptions) ([]image.DeleteItem, error) {
	r.removeInUse = opts.InUse
	return nil, nil
}

func (r *recordingImages) Prune(_ bool, inUse func(string) bool) ([]image.DeleteItem, int64, error) {
	r.pruneInUse = inUse
	return nil, 0, nil
}

func TestEngineImagesInUseAndSystemInfo(t *testing.T) {
	imgs := &recordingImages{Images: fakeruntime.NewImages()}
	used := imgs.Add("busybox:latest", amd64, v1.Config{Cmd: []string{"sh"}})
	unused := imgs.Add("other:latest", amd64, v1.Config{Cmd: []string{"sh"}})
	e, err := engine.New(engine.Config{Root: t.TempDir(), Images: imgs, Runtime: fakeruntime.New(), Driver: "qemu", Accel: "tcg"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := e.ContainerCreate(ctx, engine.CreateRequest{Name: "idle", Config: container.Config{Image: "busybox", Cmd: []string{"true"}}})
	if err != nil {
		t.Fatal(err)
	}
	running, err := e.ContainerCreate(ctx, engine.CreateRequest{Name: "busy", Config: container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ContainerStart(ctx, running.ID); err != nil {
		t.Fatal(err)
	}

	if _, err := e.ImageRemove("busybox", false, false); err != nil {
		t.Fatal(err)
	}
	if id, ok := imgs.removeInUse(used.ID); !ok || (id != created.ID && id != running.ID) {
		t.Errorf("InUse(busybox) = %q, %v; want one of its containers", id, ok)
	}
	if _, ok := imgs.removeInUse(unused.ID); ok {
		t.Error("InUse(other) reports a user")
	}
	if _, _, err := e.ImagePrune(true, engine.PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if !imgs.pruneInUse(used.ID) || imgs.pruneInUse(unused.ID) {
		t.Error("prune's in-use callback is wrong")
	}

	info := e.SystemInfo()
	if info.Images != 2 || info.Containers != 2 || info.Running != 1 || info.Stopped != 1 || info.Paused != 0 {
		t.Errorf("counts %+v", info)
	}
	if info.Driver != "qemu" || info.Accel != "tcg" || info.Root == "" {
		t.Errorf("driver facts %+v", info)
	}

	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e.Shutdown(sctx)
	if info := e.SystemInfo(); info.Running != 0 {
		t.Errorf("a container still runs after Shutdown: %+v", info)
	}
}

func TestEngineNeedsItsParts(t *testing.T) {
	if _, err := engine.New(engine.Config{Root: t.TempDir()}); err == nil {
		t.Fatal("an engine without images or runtime was made")
	}
}

package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr.Name)
	}
}

func TestCommitMakesAnImageOfTheContainer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "web", "sleep", "inf")
	if err := f.c.ContainerExtractToDir(ctx, "web", "/etc", engine.CopyOptions{}, tarWith(t, "app.conf", "x=1\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	_, live, cancel := f.bus.Subscribe()
	defer cancel()

	imgID, err := f.c.ContainerCommit(ctx, "web", engine.CommitOptions{
		Tag: "newimg:1", Author: "me", Comment: "msg", Pause: true,
		Changes: []string{`CMD ["cat","/etc/app.conf"]`, "ENV X=1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.images.Resolve("newimg:1", nil)
	if err != nil || img.ID != imgID {
		t.Fatalf("resolve newimg:1 = %+v, %v; committed %s", img, err, imgID)
	}
	cfg := img.Config
	if !reflect.DeepEqual(cfg.Config.Cmd, []string{"cat", "/etc/app.conf"}) || cfg.Author != "me" || cfg.Container != id {
		t.Fatalf("config = %+v", cfg)
	}
	// The container's config (merged with its image's at create) is the
	// base: the image's labels and env are there, X added.
	if want := []string{"PATH=/usr/bin:/bin", "HOME=/root", "X=1"}; !reflect.DeepEqual(cfg.Config.Env, want) || cfg.Config.Labels["from"] != "image" {
		t.Fatalf("env %q labels %v", cfg.Config.Env, cfg.Config.Labels)
	}
	h := cfg.History[len(cfg.History)-1]
	if h.CreatedBy != "sleep inf" || h.Comment != "msg" || h.Author != "me" {
		t.Fatalf("history entry %+v", h)
	}
	layer, ok := f.images.CommittedLayer(imgID)
	if names := tarNames(t, layer); !ok || !reflect.DeepEqual(names, []string{"etc/app.conf"}) {
		t.Fatalf("layer = %q", names)
	}
	// The running container's writes were held while its layer was read.
	if got := f.rt.LayerFreezes(id); !reflect.DeepEqual(got, []bool{true}) {
		t.Fatalf("freezes = %v, want [true]", got)
	}
	select {
	case e := <-live:
		if e.Action != "commit" || e.Actor.Attributes["imageID"] != imgID || e.Actor.Attributes["comment"] != "msg" || e.Actor.Attributes["imageRef"] != "newimg:1" {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no commit event")
	}

	// pause=false reads without freezing; a stopped container is read
	// through a maintenance session.
	if _, err := f.c.ContainerCommit(ctx, "web", engine.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerKill(ctx, "web", ""); err != nil {
		t.Fatal(err)
	}
	f.wait(t, "web", "not-running")
	sessions := f.rt.FileSessions()
	if _, err := f.c.ContainerCommit(ctx, "web", engine.CommitOptions{Pause: true}); err != nil {
		t.Fatal(err)
	}
	if got := f.rt.FileSessions(); got != sessions+1 {
		t.Fatalf("maintenance sessions %d -> %d for a stopped container's commit", sessions, got)
	}
	if got := f.rt.LayerFreezes(id); !reflect.DeepEqual(got, []bool{true, false, false}) {
		t.Fatalf("freezes = %v: a container that does not run is never frozen", got)
	}
}

func TestCommitOfANeverStartedContainerNeedsNoVM(t *testing.T) {
	f := newFixture(t)
	f.create(t, "fresh", "true")
	imgID, err := f.c.ContainerCommit(context.Background(), "fresh", engine.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.rt.FileSessions(); n != 0 {
		t.Fatalf("%d maintenance sessions for a container without a writable disk", n)
	}
	if layer, _ := f.images.CommittedLayer(imgID); !bytes.Equal(layer, make([]byte, 1024)) {
		t.Fatalf("layer of a fresh container = %d bytes, want the empty tar", len(layer))
	}
}

func TestCommitConfigFromTheRequestBody(t *testing.T) {
	f := newFixture(t)
	f.create(t, "web", "sleep", "inf")
	body := &container.Config{Cmd: []string{"serve"}, Env: []string{"HOME=/srv"}, Labels: map[string]string{"keep": "body"}}
	imgID, err := f.c.ContainerCommit(context.Background(), "web", engine.CommitOptions{Config: body, Changes: []string{"USER app"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.images.Resolve(imgID, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := img.Config.Config
	if !reflect.DeepEqual(c.Cmd, []string{"serve"}) || c.User != "app" || c.Labels["keep"] != "body" || c.Labels["from"] != "image" {
		t.Fatalf("config %+v", c)
	}
	if want := []string{"HOME=/srv", "PATH=/usr/bin:/bin"}; !reflect.DeepEqual(c.Env, want) {
		t.Fatalf("env %q, want %q (the body's, then the container's by name)", c.Env, want)
	}
}

func TestCommitErrorsAreDockers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.create(t, "web", "sleep", "inf")
	if _, err := f.c.ContainerCommit(ctx, "nope", engine.CommitOptions{}); !errdefs.IsNotFound(err) || err.Error() != "No such container: nope" {
		t.Fatalf("missing container: %v", err)
	}
	if _, err := f.c.ContainerCommit(ctx, "web", engine.CommitOptions{Changes: []string{"FOO bar"}}); !errdefs.IsInvalidParameter(err) || err.Error() != "FOO is not a valid change command" {
		t.Fatalf("bad change: %v", err)
	}
	if err := f.c.ContainerStart(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerPause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ContainerCommit(ctx, "web", engine.CommitOptions{Pause: true}); !errdefs.IsConflict(err) {
		t.Fatalf("paused container: %v", err)
	}
}

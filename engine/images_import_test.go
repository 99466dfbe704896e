package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

// rootTar is a small root file system tarball.
func rootTar(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range []struct{ name, data string }{{"etc/hostname", "imported\n"}, {"bin/hello", "#!/bin/sh\necho hi\n"}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.data))
	}
	tw.Close()
	return b.Bytes()
}

// engineOverARealStore is an engine with a real image store (engine/image)
// and a fake runtime.
func engineOverARealStore(t *testing.T) *engine.Engine {
	t.Helper()
	store, err := image.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Root: t.TempDir(), Images: store, Runtime: fakeruntime.New()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// docker import through the engine over a real image store: a gzipped
// tarball becomes a tagged image with the changes applied, and dockerd's
// image events follow (tag, import; untag and delete on removal); what is
// not a tar archive is an invalid parameter that stores nothing.
func TestImageImportAndImageEvents(t *testing.T) {
	e := engineOverARealStore(t)
	_, live, cancel := e.Subscribe()
	defer cancel()

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(rootTar(t))
	zw.Close()
	id, err := e.ImageImport(context.Background(), engine.ImportOptions{
		Source: &gz, SourceName: "-", Tag: "imp:v1", Changes: []string{"LABEL team=blue", `CMD ["/bin/hello"]`},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := e.Images().Resolve("imp:v1", nil)
	if err != nil || img.ID != id {
		t.Fatalf("resolve imp:v1: %v, %v (imported %s)", img, err, id)
	}
	if strings.Join(img.Config.Config.Cmd, " ") != "/bin/hello" || img.Config.History[0].Comment != "Imported from -" || len(img.Layers) != 1 {
		t.Fatalf("imported config %+v, history %+v", img.Config.Config, img.Config.History)
	}
	if _, err := e.ImageRemove("imp:v1", false, false); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		ev := <-live
		if ev.Type != events.TypeImage {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", ev.Action, ev.Actor.ID, ev.Actor.Attributes["name"], ev.Actor.Attributes["team"]))
	}
	want := []string{"tag " + id + " imp:v1 blue", "import " + id + " " + id + " blue", "untag " + id + " " + id + " blue", "delete " + id + " " + id + " "}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	_, err = e.ImageImport(context.Background(), engine.ImportOptions{Source: strings.NewReader("garbage data here\n"), SourceName: "-", Tag: "bad:1"})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "Error processing tar file: unexpected EOF" {
		t.Fatalf("import of garbage: %v", err)
	}
	if imgs, _ := e.Images().List(); len(imgs) != 0 {
		t.Fatalf("images after a failed import: %d", len(imgs))
	}
	if _, err := e.ImageImport(context.Background(), engine.ImportOptions{Source: bytes.NewReader(rootTar(t)), Changes: []string{"BOGUS x"}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("a bad change: %v", err)
	}

	// HEALTHCHECK --start-interval survives the image and reaches a
	// container made from it.
	if _, err := e.ImageImport(context.Background(), engine.ImportOptions{Source: bytes.NewReader(rootTar(t)), Tag: "hc:1",
		Changes: []string{"HEALTHCHECK --interval=1m --start-interval=2s CMD true", `CMD ["/bin/hello"]`}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.ContainerCreate(context.Background(), engine.CreateRequest{Config: container.Config{Image: "hc:1"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.ContainerInspect(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h := info.Config.Healthcheck; h == nil || h.StartInterval != 2*time.Second || h.Interval != time.Minute {
		t.Fatalf("the container's healthcheck %+v", h)
	}
}

// Image prune with dockerd's filters: only images created before until
// and matching the labels go; the others stay.
func TestImagePruneFilters(t *testing.T) {
	e := engineOverARealStore(t)
	ids := map[string]string{}
	for _, c := range []struct{ tag, label string }{{"blue:1", "team=blue"}, {"red:1", "team=red"}, {"kept:1", "keep=yes"}} {
		id, err := e.ImageImport(context.Background(), engine.ImportOptions{Source: bytes.NewReader(rootTar(t)), Tag: c.tag, Changes: []string{"LABEL " + c.label}})
		if err != nil {
			t.Fatal(err)
		}
		ids[c.tag] = id
	}
	left := func() string {
		imgs, _ := e.Images().List()
		var tags []string
		for _, img := range imgs {
			tags = append(tags, img.RepoTags...)
		}
		sort.Strings(tags)
		return strings.Join(tags, " ")
	}
	prune := func(opts engine.PruneOptions) []image.DeleteItem {
		t.Helper()
		items, _, err := e.ImagePrune(false, opts)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	if items := prune(engine.PruneOptions{Labels: []string{"team=blue"}}); len(items) != 2 || items[1].Deleted != ids["blue:1"] || left() != "kept:1 red:1" {
		t.Fatalf("label=team=blue pruned %+v, left %q", items, left())
	}
	if items := prune(engine.PruneOptions{Until: time.Now().Add(-time.Hour)}); len(items) != 0 || left() != "kept:1 red:1" {
		t.Fatalf("until an hour ago pruned %+v, left %q", items, left())
	}
	if items := prune(engine.PruneOptions{Until: time.Now().Add(time.Hour), NotLabels: []string{"keep"}}); len(items) != 2 || items[1].Deleted != ids["red:1"] || left() != "kept:1" {
		t.Fatalf("until in an hour, label!=keep pruned %+v, left %q", items, left())
	}
}

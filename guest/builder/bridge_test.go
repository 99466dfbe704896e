package builder

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/pier-vm/pier/guest/proto"
)

// remoteOpt reaches the bridge as BuildKit does (through Client), with
// the platform of ctx.
func remoteOpt(ctx context.Context, dial func(context.Context) (net.Conn, error)) []remote.Option {
	return []remote.Option{remote.WithTransport(Client(dial).Transport), remote.WithContext(ctx)}
}

// loaded is img as it comes back from a docker-save tarball (the image the
// bridge serves for it).
func loaded(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	p := t.TempDir() + "/img.tar"
	if err := tarball.WriteToFile(p, name.MustParseReference("x:latest"), img); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// answerWith answers resolve requests from images by Ref (a tarball of it
// at Path), and anything else with an error.
func answerWith(t *testing.T, images map[string]v1.Image) func(proto.BuilderRequest) proto.BuilderReply {
	return func(req proto.BuilderRequest) proto.BuilderReply {
		img, ok := images[req.Ref]
		if req.Op != proto.BuilderResolve || !ok {
			return proto.BuilderReply{Error: "pierd has no " + req.Ref}
		}
		if err := tarball.WriteToFile(req.Path, name.MustParseReference("some/name:tag"), img); err != nil {
			return proto.BuilderReply{Error: err.Error()}
		}
		return proto.BuilderReply{}
	}
}

func TestBridgeResolvesOnMiss(t *testing.T) {
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := loaded(t, img)
	byDigest := loaded(t, must(random.Image(1024, 1)))
	digestRef := "docker.io/library/pinned@" + mustDigest(t, byDigest).String()
	f, h := newFakeHost(t, answerWith(t, map[string]v1.Image{
		"docker.io/library/busybox:latest": img,
		digestRef:                          byDigest,
	}))
	_, root, dial := serveBridge(t, h)
	ctx := WithPlatform(context.Background(), "linux/arm64/v8")

	// A tag is an index of the platforms asked for: the client picks its own.
	arm64 := remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	got, err := remote.Image(name.MustParseReference("busybox:latest"), append(remoteOpt(ctx, dial), arm64)...)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := mustDigest(t, got), mustDigest(t, want); g != w {
		t.Fatalf("served digest %s, want the host's image %s", g, w)
	}
	// Every layer is served, by tag and then by digest.
	ls, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	byDig, err := remote.Image(must(name.ParseReference("busybox@"+mustDigest(t, want).String())), remoteOpt(ctx, dial)...)
	if err != nil {
		t.Fatalf("by digest after the tag: %v", err)
	}
	if mustDigest(t, byDig) != mustDigest(t, want) {
		t.Fatal("by digest: another image")
	}
	rs := f.requests(proto.BuilderResolve)
	if len(rs) != 1 {
		t.Fatalf("want one resolve (the digest was known after the tag), got %+v", rs)
	}
	if rs[0].Ref != "docker.io/library/busybox:latest" || rs[0].Platform != "linux/arm64/v8" || !strings.HasPrefix(rs[0].Path, root+"/imports/") {
		t.Fatalf("resolve request %+v", rs[0])
	}
	if _, err := os.Stat(rs[0].Path); !os.IsNotExist(err) {
		t.Fatalf("the import file is left: %v", err)
	}

	// A digest the registry lacks is resolved by digest.
	pinned, err := remote.Image(must(name.ParseReference(digestRef)), remoteOpt(context.Background(), dial)...)
	if err != nil {
		t.Fatalf("pull by a missing digest: %v", err)
	}
	if mustDigest(t, pinned) != mustDigest(t, byDigest) {
		t.Fatal("by a missing digest: another image")
	}
	if rs := f.requests(proto.BuilderResolve); len(rs) != 2 || rs[1].Ref != digestRef || rs[1].Platform != "" {
		t.Fatalf("want a second resolve for %s without platform, got %+v", digestRef, rs)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestBridgeResolveErrorIs404WithTheMessage(t *testing.T) {
	_, h := newFakeHost(t, answerWith(t, nil))
	_, _, dial := serveBridge(t, h)
	c := Client(dial)
	req, _ := http.NewRequest(http.MethodGet, "http://docker.io/v2/library/nope/manifests/latest", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "pierd has no docker.io/library/nope:latest") || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Fatalf("want 404 with the host's message, got %d %s", resp.StatusCode, body)
	}
	// go-containerregistry shows it too.
	_, err = remote.Image(name.MustParseReference("nope:latest"), remoteOpt(context.Background(), dial)...)
	if err == nil || !strings.Contains(err.Error(), "pierd has no docker.io/library/nope:latest") {
		t.Fatalf("want the host's message, got %v", err)
	}
}

// exported is what the fake host read from an export request's tarball.
type exported struct {
	names  []string
	config v1.Hash
	tags   []string
	err    error
}

func exportHost(t *testing.T, fail string) (*fakeHost, *Host, chan exported) {
	ch := make(chan exported, 10)
	f, h := newFakeHost(t, func(req proto.BuilderRequest) proto.BuilderReply {
		if req.Op != proto.BuilderExport {
			return proto.BuilderReply{Error: "unexpected " + req.Op}
		}
		e := exported{names: req.Names}
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(req.Path) })
		if err == nil && len(m) == 1 {
			e.tags = m[0].RepoTags
		}
		img, err := tarball.ImageFromPath(req.Path, nil)
		if err == nil {
			e.config, err = img.ConfigName()
		}
		e.err = err
		ch <- e
		if fail != "" {
			return proto.BuilderReply{Error: fail}
		}
		return proto.BuilderReply{Image: "sha256:feed"}
	})
	return f, h, ch
}

func TestBridgeExportsOnManifestPut(t *testing.T) {
	f, h, ch := exportHost(t, "")
	_, _, dial := serveBridge(t, h)
	img := must(random.Image(4096, 3))
	if err := remote.Write(name.MustParseReference("myimg:latest"), img, remoteOpt(withPush(context.Background()), dial)...); err != nil {
		t.Fatal(err)
	}
	var e exported
	select {
	case e = <-ch:
	default:
		t.Fatal("the push was answered before the host had the export")
	}
	if e.err != nil {
		t.Fatalf("the exported tarball does not load: %v", e.err)
	}
	if len(e.names) != 1 || e.names[0] != "docker.io/library/myimg:latest" {
		t.Fatalf("names %v", e.names)
	}
	if want := must(img.ConfigName()); e.config != want {
		t.Fatalf("exported config %s, want %s", e.config, want)
	}
	if len(e.tags) != 1 {
		t.Fatalf("the tarball's RepoTags: %v", e.tags)
	}
	ex := f.requests(proto.BuilderExport)
	if _, err := os.Stat(ex[0].Path); !os.IsNotExist(err) {
		t.Fatalf("the export file is left: %v", err)
	}
	if len(f.requests(proto.BuilderResolve)) != 0 {
		t.Fatal("a push resolved")
	}

	// The placeholder name of an untagged build: no names.
	if err := remote.Write(name.MustParseReference(PlaceholderHost+"/untagged:abc"), img, remoteOpt(withPush(context.Background()), dial)...); err != nil {
		t.Fatal(err)
	}
	if e := <-ch; e.err != nil || len(e.names) != 0 || len(e.tags) != 0 {
		t.Fatalf("untagged export: %+v", e)
	}
}

func TestBridgeExportErrorFailsThePush(t *testing.T) {
	_, h, ch := exportHost(t, "disk full in pierd")
	_, _, dial := serveBridge(t, h)
	err := remote.Write(name.MustParseReference("myimg:latest"), must(random.Image(100, 1)), remoteOpt(withPush(context.Background()), dial)...)
	if err == nil || !strings.Contains(err.Error(), "disk full in pierd") {
		t.Fatalf("want the push to fail with the host's message, got %v", err)
	}
	<-ch
}

func TestBridgeConcurrentResolves(t *testing.T) {
	images := map[string]v1.Image{}
	for i := range 6 {
		images[fmt.Sprintf("docker.io/library/img%d:latest", i)] = must(random.Image(512, 1))
	}
	answer := answerWith(t, images)
	f, h := newFakeHost(t, func(req proto.BuilderRequest) proto.BuilderReply {
		time.Sleep(time.Duration(len(req.Ref)%3) * 30 * time.Millisecond) // replies out of order
		return answer(req)
	})
	_, _, dial := serveBridge(t, h)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 6 {
		for range 4 { // four pulls of each image at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				ref := fmt.Sprintf("img%d:latest", i)
				got, err := remote.Image(must(name.ParseReference(ref)), remoteOpt(context.Background(), dial)...)
				if err != nil {
					errs <- err
					return
				}
				if mustDigest(t, got) != mustDigest(t, loaded(t, images["docker.io/library/"+ref])) {
					errs <- fmt.Errorf("%s: another image", ref)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(f.requests(proto.BuilderResolve)); n != 6 {
		t.Errorf("want one resolve per image (6), got %d", n)
	}
}

// TestBridgeExportsTheImageOfAnIndex: a build with attestations pushes an
// index; pierd gets the image of the daemon's platform, not the
// attestation manifest nor another platform's image.
func TestBridgeExportsTheImageOfAnIndex(t *testing.T) {
	_, h, ch := exportHost(t, "")
	_, _, dial := serveBridge(t, h) // the bridge's platform: linux/amd64
	att, arm, amd := must(random.Image(100, 1)), must(random.Image(200, 1)), must(random.Image(300, 1))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
		}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	if err := remote.WriteIndex(name.MustParseReference("multi:latest"), idx, remoteOpt(withPush(context.Background()), dial)...); err != nil {
		t.Fatal(err)
	}
	e := <-ch
	if e.err != nil {
		t.Fatal(e.err)
	}
	if want := must(amd.ConfigName()); e.config != want {
		t.Fatalf("exported config %s, want the linux/amd64 image's %s", e.config, want)
	}
	if len(e.names) != 1 || e.names[0] != "docker.io/library/multi:latest" {
		t.Fatalf("names %v", e.names)
	}
}

package image

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

func TestPullIndexPerPlatform(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Busybox, testimages.Latest)
	idx, _ := f.set.Index(testimages.Busybox, testimages.Latest)
	idxDigest, _ := idx.Digest()
	armManifest, armConfig := f.childOf(t, testimages.Busybox, testimages.Latest, "linux/arm64")
	amdManifest, amdConfig := f.childOf(t, testimages.Busybox, testimages.Latest, "linux/amd64")

	lines, progress := collect()
	arm, err := f.s.Pull(context.Background(), ref, mustPlatform(t, "linux/arm64"), nil, progress)
	if err != nil {
		t.Fatal(err)
	}
	if arm.ID != armConfig || arm.ManifestDigest != armManifest || arm.Platform != *mustPlatform(t, "linux/arm64/v8") {
		t.Fatalf("arm64 pull: ID %s manifest %s platform %v", arm.ID, arm.ManifestDigest, arm.Platform)
	}
	out := statuses(*lines)
	layer := shortID(arm.Layers[0].Digest)
	want := []string{
		"latest Pulling from pier-test/busybox",
		layer + " Pulling fs layer",
		layer + " Downloading",
		layer + " Verifying Checksum",
		layer + " Download complete",
		layer + " Extracting",
		layer + " Pull complete",
		" Digest: " + idxDigest.String(),
		" Status: Downloaded newer image for " + ref,
	}
	pos := 0
	for _, w := range want {
		i := strings.Index(out[pos:], w)
		if i < 0 {
			t.Fatalf("progress lacks %q (in order):\n%s", w, out)
		}
		pos += i
	}
	for _, l := range *lines {
		if l.Status == "Downloading" && (l.Total != arm.Layers[0].Size || l.Current <= 0 || l.Current > l.Total) {
			t.Fatalf("bad Downloading line %+v", l)
		}
	}

	amd := f.pull(t, ref, "linux/amd64")
	if amd.ID != amdConfig || amd.ManifestDigest != amdManifest || amd.Platform.Architecture != "amd64" {
		t.Fatalf("amd64 pull: %+v", amd)
	}
	if got, err := f.s.Resolve(ref, nil); err != nil || got.ID != amd.ID {
		t.Fatalf("the tag resolves to %v (%v), want the amd64 image", got, err)
	}
	if !reflect.DeepEqual(amd.RepoTags, []string{ref}) || !reflect.DeepEqual(amd.RepoDigests, []string{strings.TrimSuffix(ref, ":latest") + "@" + idxDigest.String()}) {
		t.Fatalf("amd64 refs: %v %v", amd.RepoTags, amd.RepoDigests)
	}
	armNow, err := f.s.Resolve(arm.ID, nil)
	if err != nil || len(armNow.RepoTags) != 0 {
		t.Fatalf("arm64 image after the amd64 pull (want it dangling): %+v %v", armNow, err)
	}
	if all, _ := f.s.List(); len(all) != 2 {
		t.Fatalf("%d images in the store, want 2", len(all))
	}
	// The index digest finds the image of the asked platform.
	byDigest := strings.TrimSuffix(ref, ":latest") + "@" + idxDigest.String()
	if got, err := f.s.Resolve(byDigest, mustPlatform(t, "linux/arm64")); err != nil || got.ID != arm.ID {
		t.Fatalf("resolve %s for arm64: %v %v", byDigest, got, err)
	}
}

func TestPullDockerListAndSharedLayers(t *testing.T) {
	f := newFixture(t)
	single := f.pull(t, f.reg.Ref(testimages.BusyboxAMD64, testimages.Latest), "")
	manifest, config := f.childOf(t, testimages.Busybox, testimages.DockerList, "linux/amd64")
	ref := f.reg.Ref(testimages.Busybox, testimages.DockerList)
	lines, progress := collect()
	img, err := f.s.Pull(context.Background(), ref, mustPlatform(t, "linux/amd64"), nil, progress)
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != config || img.ManifestDigest != manifest || img.ID != single.ID {
		t.Fatalf("docker list pull: %+v", img)
	}
	out := statuses(*lines)
	if !strings.Contains(out, "Already exists") || strings.Contains(out, "Downloading") || !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Fatalf("a new tag on a stored image:\n%s", out)
	}
	if len(img.RepoTags) != 2 {
		t.Fatalf("RepoTags %v", img.RepoTags)
	}
}

func TestPullSingleManifestPlatform(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.BusyboxARM64, testimages.Latest)
	manifest, config := f.single(t, testimages.BusyboxARM64)
	img := f.pull(t, ref, "linux/arm64")
	if img.ID != config || img.ManifestDigest != manifest || img.Platform.Architecture != "arm64" {
		t.Fatalf("%+v", img)
	}
	lines, progress := collect()
	_, err := f.s.Pull(context.Background(), ref, mustPlatform(t, "linux/amd64"), nil, progress)
	wantErr := "image with reference " + ref + " was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64/v8"
	if !errdefs.IsNotFound(err) || err.Error() != wantErr || len(*lines) != 0 {
		t.Fatalf("mismatch: %v (progress %v)", err, *lines)
	}
}

func TestPullErrorsBeforeProgress(t *testing.T) {
	f := newFixture(t)
	riscv := platform.Platform{OS: "linux", Architecture: "riscv64"}
	cases := []struct {
		ref   string
		plat  *platform.Platform
		kind  errdefs.Kind
		text  string
		exact bool
	}{
		{f.reg.Host + "/pier-test/nope:latest", nil, errdefs.KindNotFound, "pull access denied for " + f.reg.Host + "/pier-test/nope, repository does not exist or may require 'docker login'", true},
		{f.reg.Ref(testimages.Busybox, "nope"), nil, errdefs.KindNotFound, "manifest for " + f.reg.Ref(testimages.Busybox, "nope") + " not found: manifest unknown", true},
		{f.reg.Ref(testimages.Busybox, testimages.Latest), &riscv, errdefs.KindNotFound, "no matching manifest for linux/riscv64 in the manifest list entries", true},
		{"UPPER/case", nil, errdefs.KindInvalidParameter, "invalid reference format", false},
		{"a:b:c", nil, errdefs.KindInvalidParameter, "invalid reference format", false},
		{testregistry.DownAddr(t) + "/x:latest", nil, errdefs.KindUnavailable, "connection refused", false},
	}
	for _, tc := range cases {
		lines, progress := collect()
		_, err := f.s.Pull(context.Background(), tc.ref, tc.plat, nil, progress)
		if err == nil || errdefs.KindOf(err) != tc.kind || (tc.exact && err.Error() != tc.text) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: err %v (kind %v), want %q", tc.ref, err, errdefs.KindOf(err), tc.text)
		}
		if len(*lines) != 0 {
			t.Errorf("%s: progress before the error: %v", tc.ref, *lines)
		}
	}
	if imgs, _ := f.s.List(); len(imgs) != 0 {
		t.Fatalf("failed pulls stored %d images", len(imgs))
	}
}

func TestBrokenDownloadsLeaveNothing(t *testing.T) {
	for name, fault := range map[string]func(*testregistry.Registry, string){
		"truncated": (*testregistry.Registry).TruncateBlobs,
		"corrupt":   (*testregistry.Registry).CorruptBlobs,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			fault(f.reg, testimages.Layers)
			if _, err := f.s.Pull(context.Background(), f.reg.Ref(testimages.Layers, testimages.Latest), nil, nil, nil); err == nil {
				t.Fatal("the pull succeeded")
			}
			if imgs, _ := f.s.List(); len(imgs) != 0 {
				t.Fatalf("images recorded: %d", len(imgs))
			}
			if blobs, temps := storeFiles(t, f.s.root); len(blobs)+len(temps) != 0 {
				t.Fatalf("left behind: %v %v", blobs, temps)
			}
		})
	}
}

// failingLayer serves half of its blob, then fails.
type failingLayer struct{ v1.Layer }

func (l failingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	size, _ := l.Size()
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, size/2), errReader{}), rc}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

type thirdLayerFails struct{ v1.Image }

func (i thirdLayerFails) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	ls[2] = failingLayer{ls[2]}
	return ls, nil
}

func TestFailedLayerRemovesEarlierLayers(t *testing.T) {
	f := newFixture(t)
	img, err := f.set.Image(testimages.Layers, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	amd := *mustPlatform(t, "linux/amd64")
	_, _, err = f.s.store(context.Background(), thirdLayerFails{img}, amd, []string{"x:latest"}, false, "", "", func(Progress) {})
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("store: %v", err)
	}
	if blobs, temps := storeFiles(t, f.s.root); len(blobs)+len(temps) != 0 {
		t.Fatalf("left behind: %v %v", blobs, temps)
	}
	// The same image whole is stored fine afterwards.
	if _, _, err := f.s.store(context.Background(), img, amd, []string{"x:latest"}, false, "", "", func(Progress) {}); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentPullsShareOneDownload(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Layers, testimages.Latest)
	const n = 5
	var wg sync.WaitGroup
	imgs := make([]*Image, n)
	errs := make([]error, n)
	logs := make([]*[]Progress, n)
	for i := range n {
		lines, progress := collect()
		logs[i] = lines
		wg.Add(1)
		go func() {
			defer wg.Done()
			imgs[i], errs[i] = f.s.Pull(context.Background(), ref, nil, nil, progress)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || imgs[i].ID != imgs[0].ID {
			t.Fatalf("pull %d: %v %v", i, imgs[i], errs[i])
		}
		if out := statuses(*logs[i]); strings.Count(out, "Pull complete")+strings.Count(out, "Already exists") != len(imgs[0].Layers) ||
			!strings.HasSuffix(out, "Status: Downloaded newer image for "+ref+"\n") && !strings.HasSuffix(out, "Status: Image is up to date for "+ref+"\n") {
			t.Fatalf("pull %d progress:\n%s", i, out)
		}
	}
	if imgs, _ := f.s.List(); len(imgs) != 1 {
		t.Fatalf("%d images", len(imgs))
	}
}

func TestPullUpToDate(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.App, testimages.Latest)
	first := f.pull(t, ref, "")
	lines, progress := collect()
	again, err := f.s.Pull(context.Background(), ref, nil, nil, progress)
	if err != nil || again.ID != first.ID {
		t.Fatal(err)
	}
	out := statuses(*lines)
	if !strings.HasSuffix(out, " Status: Image is up to date for "+ref+"\n") || strings.Contains(out, "Downloading") || strings.Count(out, "Already exists") != len(first.Layers) {
		t.Fatalf("second pull:\n%s", out)
	}
	if first.Size <= 0 || first.Config.Config.User == "" || first.Created.IsZero() {
		t.Fatalf("image metadata: size %d user %q created %v", first.Size, first.Config.Config.User, first.Created)
	}
}

func TestPullByDigest(t *testing.T) {
	f := newFixture(t)
	idx, _ := f.set.Index(testimages.Busybox, testimages.Latest)
	d, _ := idx.Digest()
	ref := f.reg.Host + "/pier-test/" + testimages.Busybox + "@" + d.String()
	_, config := f.childOf(t, testimages.Busybox, testimages.Latest, "linux/arm64")
	lines, progress := collect()
	img, err := f.s.Pull(context.Background(), ref, mustPlatform(t, "linux/arm64"), nil, progress)
	if err != nil || img.ID != config || len(img.RepoTags) != 0 || !reflect.DeepEqual(img.RepoDigests, []string{ref}) {
		t.Fatalf("pull by digest: %+v %v", img, err)
	}
	out := statuses(*lines)
	if !strings.HasPrefix(out, d.String()+" Pulling from pier-test/busybox\n") || !strings.HasSuffix(out, " Status: Downloaded newer image for "+ref+"\n") {
		t.Fatalf("progress:\n%s", out)
	}
	if got, err := f.s.Resolve(ref, nil); err != nil || got.ID != img.ID {
		t.Fatalf("resolve by digest: %v %v", got, err)
	}
	// name:tag@digest is a digest pull; the tag is dropped, as in Docker.
	withTag := strings.Replace(ref, "@", ":latest@", 1)
	lines, progress = collect()
	again, err := f.s.Pull(context.Background(), withTag, mustPlatform(t, "linux/arm64"), nil, progress)
	if err != nil || again.ID != img.ID || len(again.RepoTags) != 0 || !strings.HasSuffix(statuses(*lines), "Status: Image is up to date for "+ref+"\n") {
		t.Fatalf("pull %s: %+v %v\n%s", withTag, again, err, statuses(*lines))
	}
}

// Fetch stores another platform's image without taking the tag from the
// image it names, and records the tag when it names nothing yet.
func TestFetchLeavesATagAlone(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Busybox, testimages.Latest)
	_, armConfig := f.childOf(t, testimages.Busybox, testimages.Latest, "linux/arm64")
	amd := f.pull(t, ref, "linux/amd64")
	arm, err := f.s.Fetch(context.Background(), ref, mustPlatform(t, "linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if arm.ID != armConfig || len(arm.RepoTags) != 0 {
		t.Fatalf("fetched arm64 image: ID %s tags %v; want %s, untagged", arm.ID, arm.RepoTags, armConfig)
	}
	if got, err := f.s.Resolve(ref, nil); err != nil || got.ID != amd.ID {
		t.Fatalf("after the fetch the tag resolves to %v (%v), want the amd64 image", got, err)
	}

	other := newFixture(t)
	fetched, err := other.s.Fetch(context.Background(), other.reg.Ref(testimages.Busybox, testimages.Latest), mustPlatform(t, "linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{other.reg.Ref(testimages.Busybox, testimages.Latest)}; !reflect.DeepEqual(fetched.RepoTags, want) {
		t.Fatalf("a fetch of a tag that named nothing: tags %v, want %v", fetched.RepoTags, want)
	}
}

package image

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

func TestLoginChecksTheCredentials(t *testing.T) {
	reg := testregistry.Start(t, testregistry.WithBasicAuth("alice", "s3cret"))
	open := testregistry.Start(t)
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Login(ctx, Auth{Username: "alice", Password: "s3cret", ServerAddress: reg.Host}); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	// The CLI may send a scheme; only the host counts.
	if _, err := s.Login(ctx, Auth{Username: "alice", Password: "s3cret", ServerAddress: "http://" + reg.Host + "/"}); err != nil {
		t.Fatalf("address with a scheme: %v", err)
	}
	_, err = s.Login(ctx, Auth{Username: "alice", Password: "wrong", ServerAddress: reg.Host})
	want := "login attempt to http://" + reg.Host + "/v2/ failed with status: 401 Unauthorized"
	if err == nil || err.Error() != want {
		t.Fatalf("wrong password: %v, want %q", err, want)
	}
	if k := errdefs.KindOf(err); k != errdefs.KindUnknown {
		t.Fatalf("wrong password classified %v; dockerd leaves it unclassified (500)", k)
	}
	if _, err := s.Login(ctx, Auth{Username: "bob", Password: "whatever", ServerAddress: open.Host}); err != nil {
		t.Fatalf("a registry without authentication takes anyone: %v", err)
	}
	down := testregistry.DownAddr(t)
	if _, err := s.Login(ctx, Auth{Username: "a", Password: "b", ServerAddress: down}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("registry down: %v", err)
	}
}

func TestLoginAndPushThroughATokenService(t *testing.T) {
	f := newFixture(t)
	reg := testregistry.Start(t, testregistry.WithTokenAuth("alice", "s3cret"))
	ctx := context.Background()
	if _, err := f.s.Login(ctx, Auth{Username: "alice", Password: "s3cret", ServerAddress: reg.Host}); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	_, err := f.s.Login(ctx, Auth{Username: "alice", Password: "wrong", ServerAddress: reg.Host})
	want := `Get "http://` + reg.Host + `/v2/": unauthorized: incorrect username or password`
	if !errdefs.IsUnauthorized(err) || err.Error() != want {
		t.Fatalf("wrong password: %v (kind %v), want 401 %q", err, errdefs.KindOf(err), want)
	}
	src := f.reg.Ref(testimages.App, testimages.Latest)
	img := f.pull(t, src, "")
	if err := f.s.Tag(src, reg.Host+"/tok/app", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Push(ctx, reg.Host+"/tok/app", "v1", nil, &Auth{Username: "alice", Password: "wrong"}, nil); !errdefs.IsUnauthorized(err) {
		t.Fatalf("push with a wrong password: %v", err)
	}
	if err := f.s.Push(ctx, reg.Host+"/tok/app", "v1", nil, &Auth{Username: "alice", Password: "s3cret"}, nil); err != nil {
		t.Fatal(err)
	}
	// A fresh store pulls it back through the token service.
	other, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	back, err := other.Pull(ctx, reg.Host+"/tok/app:v1", nil, &Auth{Username: "alice", Password: "s3cret"}, nil)
	if err != nil || back.ID != img.ID || back.ManifestDigest != img.ManifestDigest {
		t.Fatalf("pull back: %+v %v", back, err)
	}
}

func TestPushWritesTheStoredImageAndReportsLikeDockerd(t *testing.T) {
	f := newFixture(t)
	dst := testregistry.Start(t, testregistry.WithBasicAuth("alice", "s3cret"))
	src := f.reg.Ref(testimages.Layers, testimages.Latest)
	img := f.pull(t, src, "")
	repo := dst.Host + "/mine/layers"
	if err := f.s.Tag(src, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	auth := &Auth{Username: "alice", Password: "s3cret"}

	// Without credentials the registry refuses; the error comes after the
	// first line.
	lines, progress := collect()
	err := f.s.Push(ctx, repo, "v1", nil, nil, progress)
	if err == nil || !strings.Contains(err.Error(), "unauthorized: authentication required") {
		t.Fatalf("push without credentials: %v", err)
	}
	if len(*lines) == 0 || (*lines)[0].Status != "The push refers to repository ["+repo+"]" {
		t.Fatalf("first line: %+v", *lines)
	}

	lines, progress = collect()
	if err := f.s.Push(ctx, repo, "v1", nil, auth, progress); err != nil {
		t.Fatal(err)
	}
	top := shortID(img.Layers[len(img.Layers)-1].DiffID)
	base := shortID(img.Layers[0].DiffID)
	out := statuses(*lines)
	want := []string{
		" The push refers to repository [" + repo + "]",
		top + " Preparing", base + " Preparing",
		top + " Pushing", top + " Pushed",
		base + " Pushing", base + " Pushed",
	}
	pos := 0
	for _, w := range want {
		i := strings.Index(out[pos:], w)
		if i < 0 {
			t.Fatalf("progress lacks %q (in order):\n%s", w, out)
		}
		pos += i
	}
	last := (*lines)[len(*lines)-1]
	raw, _ := f.s.v1ImageOf(t, img).RawManifest()
	wantPushed := &Pushed{Tag: "v1", Digest: img.ManifestDigest, Size: len(raw)}
	if !reflect.DeepEqual(last.Pushed, wantPushed) {
		t.Fatalf("last line %+v, want Pushed %+v", last, wantPushed)
	}
	if prev := (*lines)[len(*lines)-2].Status; prev != "v1: digest: "+img.ManifestDigest+" size: "+strconv.Itoa(len(raw)) {
		t.Fatalf("digest line %q", prev)
	}

	// The registry has the very manifest the store holds.
	ref, _ := name.ParseReference(repo+":v1", name.Insecure)
	desc, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != img.ManifestDigest {
		t.Fatalf("registry digest %s, stored %s", desc.Digest, img.ManifestDigest)
	}
	got, err := f.s.Resolve(repo+":v1", nil)
	if err != nil || !contains(got.RepoDigests, repo+"@"+img.ManifestDigest) {
		t.Fatalf("RepoDigests after the push: %v %v", got, err)
	}

	// A second tag: every layer is there already.
	if err := f.s.Tag(src, repo, "v2"); err != nil {
		t.Fatal(err)
	}
	lines, progress = collect()
	if err := f.s.Push(ctx, repo, "", nil, auth, progress); err != nil {
		t.Fatal(err)
	}
	out = statuses(*lines)
	if strings.Contains(out, "Pushing") || !strings.Contains(out, base+" Layer already exists") ||
		!strings.Contains(out, "v1: digest:") || !strings.Contains(out, "v2: digest:") {
		t.Fatalf("push of every tag:\n%s", out)
	}
}

// v1ImageOf returns the stored image img as a v1.Image.
func (s *Service) v1ImageOf(t *testing.T, img *Image) v1.Image {
	t.Helper()
	s.mu.Lock()
	rec := s.images[img.ManifestDigest]
	s.mu.Unlock()
	vi, err := s.v1Image(rec)
	if err != nil {
		t.Fatal(err)
	}
	return vi
}

func TestPushErrorsAreDockers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		repo, tag, want string
		kind            errdefs.Kind
	}{
		{"127.0.0.1:1/nothing/here", "latest", "An image does not exist locally with the tag: 127.0.0.1:1/nothing/here", errdefs.KindNotFound},
		{"Bad Name", "latest", "invalid reference format", errdefs.KindInvalidParameter},
	}
	src := f.reg.Ref(testimages.App, testimages.Latest)
	f.pull(t, src, "")
	repo := f.reg.Host + "/" + testregistry.Namespace + "/" + testimages.App
	cases = append(cases, struct {
		repo, tag, want string
		kind            errdefs.Kind
	}{repo, "nosuchtag", "tag does not exist: " + repo + ":nosuchtag", errdefs.KindNotFound})
	for _, c := range cases {
		err := f.s.Push(ctx, c.repo, c.tag, nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || errdefs.KindOf(err) != c.kind {
			t.Errorf("push %s:%s: %v (kind %v), want %q (kind %v)", c.repo, c.tag, err, errdefs.KindOf(err), c.want, c.kind)
		}
	}
	if err := f.s.Push(ctx, repo, "latest", mustPlatform(t, "linux/arm64"), nil, nil); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "does not match the specified platform") {
		t.Errorf("push of another platform: %v", err)
	}
}

func TestHistoryFollowsTheConfig(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Layers, testimages.Latest)
	img := f.pull(t, ref, "")
	items, err := f.s.History(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(img.Layers) || len(items) < 2 {
		t.Fatalf("history of %d layers: %+v", len(img.Layers), items)
	}
	if items[0].ID != img.ID || !reflect.DeepEqual(items[0].Tags, []string{ref}) {
		t.Fatalf("newest entry %+v", items[0])
	}
	var total int64
	for i, it := range items {
		if i > 0 && (it.ID != "<missing>" || it.Tags != nil) {
			t.Fatalf("older entry %d: %+v", i, it)
		}
		if it.Size <= 0 || it.CreatedBy != "pier testimages layer "+strconv.Itoa(len(items)-1-i) {
			t.Fatalf("entry %d: %+v", i, it)
		}
		total += it.Size
	}
	if total != img.Size {
		t.Fatalf("sizes add up to %d, image size %d", total, img.Size)
	}
	if _, err := f.s.History("nosuch:image", nil); !errdefs.IsNotFound(err) || err.Error() != "No such image: nosuch:image" {
		t.Fatalf("unknown image: %v", err)
	}
}

func TestHistoryEmptyLayersAndMismatch(t *testing.T) {
	when := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	img := &Image{ID: "sha256:top", RepoTags: []string{"x:1"}, Layers: []Layer{{DiffSize: 100}}}
	img.Config.History = []v1.History{
		{Created: v1.Time{Time: when}, CreatedBy: "ADD rootfs", Comment: "base"},
		{CreatedBy: "ENV A=1", EmptyLayer: true},
	}
	items, err := historyOf(img)
	if err != nil {
		t.Fatal(err)
	}
	want := []HistoryItem{
		{ID: "sha256:top", CreatedBy: "ENV A=1", Tags: []string{"x:1"}},
		{ID: "<missing>", Created: when, CreatedBy: "ADD rootfs", Size: 100, Comment: "base"},
	}
	if !reflect.DeepEqual(items, want) {
		t.Fatalf("history %+v, want %+v", items, want)
	}
	img.Config.History = append(img.Config.History, v1.History{CreatedBy: "RUN x"})
	if _, err := historyOf(img); err == nil || err.Error() != "too many non-empty layers in History section" {
		t.Fatalf("more layer entries than layers: %v", err)
	}
}

func TestSearchAsksTheIndex(t *testing.T) {
	set := testimages.Require(t)
	reg := testregistry.Start(t, testregistry.WithSearch())
	if err := reg.Push(set); err != nil {
		t.Fatal(err)
	}
	plain := testregistry.Start(t)
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := s.Search(ctx, reg.Host+"/busybox", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if !contains(names, testregistry.Namespace+"/busybox") || contains(names, testregistry.Namespace+"/app") {
		t.Fatalf("results %v", names)
	}
	if res, err := s.Search(ctx, reg.Host+"/busybox", 1, nil); err != nil || len(res) != 1 {
		t.Fatalf("limit 1: %v %v", res, err)
	}
	if _, err := s.Search(ctx, plain.Host+"/busybox", 0, nil); err == nil || err.Error() != "Unexpected status code 404" || errdefs.KindOf(err) != errdefs.KindUnknown {
		t.Fatalf("registry without search: %v", err)
	}
	if _, err := s.Search(ctx, "https://"+reg.Host+"/x", 0, nil); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "should not have a scheme") {
		t.Fatalf("term with a scheme: %v", err)
	}
	if _, err := s.Search(ctx, reg.Host+"/x", 101, nil); !errdefs.IsInvalidParameter(err) || err.Error() != "limit 101 is outside the range of [1, 100]" {
		t.Fatalf("limit 101: %v", err)
	}
	for term, want := range map[string][2]string{
		"busybox":               {"", "busybox"},
		"library/busybox":       {"", "library/busybox"},
		"docker.io/library/x":   {"", "library/x"},
		"localhost/x":           {"localhost", "x"},
		"127.0.0.1:5000/a/b":    {"127.0.0.1:5000", "a/b"},
		"example.test/team/app": {"example.test", "team/app"},
	} {
		if i, r := splitSearchTerm(term); [2]string{i, r} != want {
			t.Errorf("splitSearchTerm(%q) = %q, %q; want %q", term, i, r, want)
		}
	}
}

func TestDistributionAsksTheRegistry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	idx, _ := f.set.Index(testimages.Busybox, testimages.Latest)
	idxDigest, _ := idx.Digest()
	d, err := f.s.Distribution(ctx, f.reg.Ref(testimages.Busybox, testimages.Latest), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != idxDigest.String() || len(d.Platforms) != 2 || !strings.Contains(d.MediaType, "index") || d.Size <= 0 {
		t.Fatalf("index: %+v", d)
	}
	manifest, _ := f.single(t, testimages.App)
	d, err = f.s.Distribution(ctx, f.reg.Host+"/"+testregistry.Namespace+"/"+testimages.App, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != manifest || len(d.Platforms) != 1 || d.Platforms[0].Architecture != "amd64" {
		t.Fatalf("image (tag latest implied): %+v", d)
	}
	if _, err := f.s.Distribution(ctx, f.reg.Ref(testimages.App, "nosuchtag"), nil); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown tag: %v", err)
	}
	if _, err := f.s.Distribution(ctx, strings.Repeat("a", 64), nil); err == nil || err.Error() != "no manifest found for full image ID" {
		t.Fatalf("an image ID: %v", err)
	}
}

package image

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

func newTestService(t *testing.T) (*Service, *testregistry.Registry) {
	t.Helper()
	set := testimages.Require(t)
	reg := testregistry.Start(t)
	if err := reg.Push(set); err != nil {
		t.Fatal(err)
	}
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

func mustPlatform(t *testing.T, s string) *platform.Platform {
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func collect() (*[]Progress, func(Progress)) {
	var mu sync.Mutex
	var lines []Progress
	return &lines, func(p Progress) { mu.Lock(); lines = append(lines, p); mu.Unlock() }
}

func statuses(lines []Progress) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Status + "\n")
	}
	return b.String()
}

func TestPullByPlatformKeepsBothAndTagFollowsLastPull(t *testing.T) {
	s, reg := newTestService(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	lines, progress := collect()
	arm, err := s.Pull(context.Background(), ref, mustPlatform(t, "linux/arm64"), nil, progress)
	if err != nil {
		t.Fatal(err)
	}
	if arm.Platform.Architecture != "arm64" || arm.Platform.Variant != "v8" {
		t.Fatalf("arm64 pull recorded %v", arm.Platform)
	}
	out := statuses(*lines)
	for _, want := range []string{"Pulling from pier-test/busybox", "Pulling fs layer", "Download complete", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	amd, err := s.Pull(context.Background(), ref, mustPlatform(t, "linux/amd64"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if amd.ID == arm.ID || amd.Platform.Architecture != "amd64" {
		t.Fatalf("amd64 pull: %+v", amd)
	}
	got, err := s.Resolve(ref, nil)
	if err != nil || got.ID != amd.ID {
		t.Fatalf("tag resolves to %v (%v), want the amd64 image", got, err)
	}
	if _, err := s.Resolve(arm.ID, nil); err != nil {
		t.Fatalf("arm64 image gone from the store: %v", err)
	}
	if _, err := s.Resolve(ref, mustPlatform(t, "linux/arm64")); !errdefs.IsNotFound(err) {
		t.Fatalf("tag with another platform: %v", err)
	}
	all, _ := s.List()
	if len(all) != 2 {
		t.Fatalf("%d images in store", len(all))
	}
	// A second pull of the same is up to date.
	lines, progress = collect()
	if _, err := s.Pull(context.Background(), ref, mustPlatform(t, "linux/amd64"), nil, progress); err != nil {
		t.Fatal(err)
	}
	if out := statuses(*lines); !strings.Contains(out, "Status: Image is up to date for "+ref) || !strings.Contains(out, "Already exists") {
		t.Fatalf("second pull:\n%s", out)
	}
	// Reload from disk.
	s2, err := New(s.root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Resolve(ref, nil); err != nil || got.ID != amd.ID || got.Size <= 0 || len(got.RepoTags) != 1 {
		t.Fatalf("after reload: %+v %v", got, err)
	}
}

func TestPullErrors(t *testing.T) {
	s, reg := newTestService(t)
	cases := []struct {
		ref  string
		plat string
		is   func(error) bool
		text string
	}{
		{reg.Host + "/pier-test/nope:latest", "", errdefs.IsNotFound, "repository does not exist"},
		{reg.Ref(testimages.Busybox, "nope"), "", errdefs.IsNotFound, "not found"},
		{reg.Ref(testimages.BusyboxARM64, testimages.Latest), "linux/amd64", errdefs.IsNotFound, "does not match the specified platform"},
		{"UPPER/case", "", errdefs.IsInvalidParameter, "invalid reference format"},
		{testregistry.DownAddr(t) + "/x:latest", "", func(error) bool { return true }, "refused"},
	}
	for _, tc := range cases {
		var plat *platform.Platform
		if tc.plat != "" {
			plat = mustPlatform(t, tc.plat)
		}
		lines, progress := collect()
		_, err := s.Pull(context.Background(), tc.ref, plat, nil, progress)
		if err == nil || !tc.is(err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: err %v, want %q", tc.ref, err, tc.text)
		}
		if tc.plat == "" && len(*lines) != 0 {
			t.Errorf("%s: progress before the error: %v", tc.ref, *lines)
		}
	}
}

func TestTruncatedLayerLeavesNothing(t *testing.T) {
	s, reg := newTestService(t)
	reg.TruncateBlobs(testimages.BusyboxAMD64)
	if _, err := s.Pull(context.Background(), reg.Ref(testimages.BusyboxAMD64, testimages.Latest), nil, nil, nil); err == nil {
		t.Fatal("pull of a truncated layer succeeded")
	}
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Fatalf("images recorded: %d", len(imgs))
	}
	entries, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
}

func TestTagRemoveSaveLoadAndRootDisk(t *testing.T) {
	s, reg := newTestService(t)
	ref := reg.Ref(testimages.Layers, testimages.Latest)
	img, err := s.Pull(context.Background(), ref, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ref, "mine/layers", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ref, "Bad Name", "v1"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad repo: %v", err)
	}
	if got, err := s.Resolve("mine/layers:v1", nil); err != nil || got.ID != img.ID {
		t.Fatalf("tag: %v %v", got, err)
	}
	if _, err := s.Remove(img.ID[7:19], RemoveOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("remove by ID with two tags: %v", err)
	}
	items, err := s.Remove("mine/layers:v1", RemoveOptions{})
	if err != nil || len(items) != 1 || items[0].Untagged != "mine/layers:v1" {
		t.Fatalf("untag: %+v %v", items, err)
	}

	disk, err := s.RootDisk(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	// tar2ext4 leaves the inode bitmap's padding unset, which e2fsck
	// reports; any other finding fails the test.
	out, _ := exec.Command("e2fsck", "-fn", disk).CombinedOutput()
	if n := strings.Count(string(out), "Fix? no"); n != strings.Count(string(out), "Padding at end of inode bitmap is not set. Fix? no") || !strings.Contains(string(out), "Pass 5") {
		t.Fatalf("e2fsck found problems:\n%s", out)
	}
	ls, err := exec.Command("debugfs", "-R", "ls -l /home", disk).CombinedOutput()
	if err != nil || !strings.Contains(string(ls), "app") {
		t.Fatalf("debugfs: %v\n%s", err, ls)
	}

	var buf bytes.Buffer
	if err := s.Save(context.Background(), []string{ref}, &buf); err != nil {
		t.Fatal(err)
	}
	fresh, _ := New(t.TempDir())
	loaded, err := fresh.Load(context.Background(), &buf, nil)
	if err != nil || len(loaded) != 1 || loaded[0] != ref {
		t.Fatalf("load: %v %v", loaded, err)
	}
	got, err := fresh.Resolve(ref, nil)
	if err != nil || got.ID != img.ID || got.ManifestDigest != img.ManifestDigest {
		t.Fatalf("loaded image %+v %v; want %s", got, err, img.ID)
	}

	items, err = s.Remove(ref, RemoveOptions{InUse: func(string) (string, bool) { return strings.Repeat("c", 64), true }})
	if !errdefs.IsConflict(err) {
		t.Fatalf("remove in use: %+v %v", items, err)
	}
	items, err = s.Remove(ref, RemoveOptions{})
	if err != nil || len(items) < 2 || items[len(items)-1].Deleted != img.ID {
		t.Fatalf("remove: %+v %v", items, err)
	}
	if _, err := os.Stat(disk); !os.IsNotExist(err) {
		t.Fatal("root disk left after delete")
	}
}

package image

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/internal/testimages"
)

func TestResolveForms(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Busybox, testimages.Latest)
	repo := strings.TrimSuffix(ref, ":latest")
	arm := f.pull(t, ref, "linux/arm64")
	img := f.pull(t, ref, "linux/amd64")
	app := f.pull(t, f.reg.Ref(testimages.App, testimages.Latest), "")
	hex := strings.TrimPrefix(img.ID, "sha256:")
	for _, r := range []string{img.ID, hex, hex[:12], "sha256:" + hex[:5], ref, repo, repo + "@" + img.ManifestDigest, img.RepoDigests[0]} {
		got, err := f.s.Resolve(r, nil)
		if err != nil || got.ID != img.ID {
			t.Errorf("Resolve(%q) = %v, %v", r, got, err)
		}
	}
	if got, err := f.s.Resolve(repo+"@"+arm.ManifestDigest, mustPlatform(t, "linux/arm64")); err != nil || got.ID != arm.ID {
		t.Errorf("arm64 by manifest digest: %v %v", got, err)
	}
	if _, err := f.s.Resolve(ref, mustPlatform(t, "linux/arm64")); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "wanted linux/arm64/v8, actual: linux/amd64") {
		t.Errorf("tag for another platform: %v", err)
	}
	for _, r := range []string{"nope", "sha256:" + strings.Repeat("0", 64), "0000000", repo + "@sha256:" + strings.Repeat("1", 64), "Bad Ref"} {
		if _, err := f.s.Resolve(r, nil); !errdefs.IsNotFound(err) || err.Error() != "No such image: "+r {
			t.Errorf("Resolve(%q): %v", r, err)
		}
	}
	// A prefix shared by two IDs is ambiguous.
	ids := []string{arm.ID[7:], img.ID[7:], app.ID[7:]}
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[i][0] == ids[j][0] {
				if _, err := f.s.Resolve(ids[i][:1], nil); !errdefs.IsNotFound(err) {
					t.Errorf("ambiguous prefix %q: %v", ids[i][:1], err)
				}
			}
		}
	}
}

func TestTag(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, f.reg.Ref(testimages.App, testimages.Latest), "")
	for _, c := range [][2]string{{"mine/app", "v1"}, {"mine/app:v2", ""}, {"other", ""}, {"localhost:5000/x/y", "z"}} {
		if err := f.s.Tag(img.ID, c[0], c[1]); err != nil {
			t.Fatalf("Tag(%v): %v", c, err)
		}
	}
	got, err := f.s.Resolve("mine/app:v1", nil)
	if err != nil || got.ID != img.ID {
		t.Fatal(err)
	}
	want := []string{f.reg.Ref(testimages.App, testimages.Latest), "localhost:5000/x/y:z", "mine/app:v1", "mine/app:v2", "other:latest"}
	if !reflect.DeepEqual(got.RepoTags, want) {
		t.Fatalf("RepoTags %v, want %v", got.RepoTags, want)
	}
	for _, c := range [][2]string{{"Bad Name", "v1"}, {"ok", "bad tag"}, {"ok@sha256:" + strings.Repeat("a", 64), ""}, {"ok:v1", "v2"}} {
		if err := f.s.Tag(img.ID, c[0], c[1]); !errdefs.IsInvalidParameter(err) {
			t.Errorf("Tag(%v): %v", c, err)
		}
	}
	if err := f.s.Tag("nope", "x", "y"); !errdefs.IsNotFound(err) {
		t.Errorf("tag of a missing image: %v", err)
	}
}

func TestRemove(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Busybox, testimages.Latest)
	repo := strings.TrimSuffix(ref, ":latest")
	img := f.pull(t, ref, "")
	if err := f.s.Tag(ref, "mine/bb", "v1"); err != nil {
		t.Fatal(err)
	}
	short := img.ID[7:19]
	running := func(string) (string, bool) { return strings.Repeat("c", 64), true }

	_, err := f.s.Remove(short, RemoveOptions{})
	if !errdefs.IsConflict(err) || err.Error() != "conflict: unable to delete "+short+" (must be forced) - image is referenced in multiple repositories" {
		t.Fatalf("remove by ID with two repositories: %v", err)
	}
	_, err = f.s.Remove(short, RemoveOptions{Force: true, InUse: running})
	if !errdefs.IsConflict(err) || err.Error() != "conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container cccccccccccc" {
		t.Fatalf("remove by ID in use: %v", err)
	}
	items, err := f.s.Remove("mine/bb:v1", RemoveOptions{InUse: running})
	if err != nil || !reflect.DeepEqual(items, []DeleteItem{{Untagged: "mine/bb:v1"}}) {
		t.Fatalf("untag one of two: %+v %v", items, err)
	}
	_, err = f.s.Remove(ref, RemoveOptions{InUse: running})
	if !errdefs.IsConflict(err) || err.Error() != `conflict: unable to remove repository reference "`+ref+`" (must force) - container cccccccccccc is using its referenced image `+short {
		t.Fatalf("remove the last tag in use: %v", err)
	}
	items, err = f.s.Remove(ref, RemoveOptions{})
	want := []DeleteItem{{Untagged: ref}, {Untagged: img.RepoDigests[0]}, {Deleted: img.ID}}
	if err != nil || !reflect.DeepEqual(items, want) {
		t.Fatalf("remove the last tag: %+v %v, want %+v", items, err, want)
	}
	if blobs, temps := storeFiles(t, f.s.root); len(blobs)+len(temps) != 0 {
		t.Fatalf("left behind: %v %v", blobs, temps)
	}
	if _, err := f.s.Remove(ref, RemoveOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("remove again: %v", err)
	}

	// Shared layers stay while another image uses them; NoPrune keeps the image.
	a := f.pull(t, f.reg.Ref(testimages.BusyboxAMD64, testimages.Latest), "")
	b := f.pull(t, repo+":"+testimages.DockerList, "linux/amd64")
	if a.ID != b.ID {
		t.Fatal("the docker list child is not busybox-amd64")
	}
	items, err = f.s.Remove(repo+":"+testimages.DockerList, RemoveOptions{NoPrune: true})
	if err != nil || len(items) != 2 || items[0].Untagged == "" {
		t.Fatalf("untag: %+v %v", items, err)
	}
	items, err = f.s.Remove(a.ID, RemoveOptions{})
	if err != nil || items[len(items)-1].Deleted != a.ID {
		t.Fatalf("remove by ID: %+v %v", items, err)
	}
	if imgs, _ := f.s.List(); len(imgs) != 0 {
		t.Fatalf("%d images left", len(imgs))
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.Busybox, testimages.Latest)
	arm := f.pull(t, ref, "linux/arm64")
	amd := f.pull(t, ref, "linux/amd64") // arm64 is now dangling
	app := f.pull(t, f.reg.Ref(testimages.App, testimages.Latest), "")
	items, reclaimed, err := f.s.Prune(true, nil)
	if err != nil || reclaimed != arm.Size || items[len(items)-1].Deleted != arm.ID {
		t.Fatalf("dangling prune: %+v %d %v", items, reclaimed, err)
	}
	if _, err := f.s.Resolve(arm.ID, nil); !errdefs.IsNotFound(err) {
		t.Fatalf("arm64 image survived: %v", err)
	}
	items, _, err = f.s.Prune(false, func(id string) bool { return id == app.ID })
	if err != nil || items[len(items)-1].Deleted != amd.ID {
		t.Fatalf("prune all: %+v %v", items, err)
	}
	imgs, _ := f.s.List()
	if len(imgs) != 1 || imgs[0].ID != app.ID {
		t.Fatalf("left: %v", imgs)
	}
	if items, n, err := f.s.Prune(false, func(string) bool { return true }); err != nil || len(items) != 0 || n != 0 {
		t.Fatalf("nothing to prune: %v %d %v", items, n, err)
	}
}

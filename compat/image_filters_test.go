package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

func testImages() []*image.Image {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id string, age int, labels map[string]string, tags ...string) *image.Image {
		img := &image.Image{ID: id, RepoTags: tags, Created: t0.Add(time.Duration(age) * time.Hour)}
		img.Config.Config = v1.Config{Labels: labels}
		return img
	}
	return []*image.Image{
		mk("old", 0, nil, "reg:5000/pier-test/busybox:latest"),
		mk("mid", 1, map[string]string{"app": "web"}, "mine/app:v1", "mine/app:v2"),
		mk("new", 2, nil),
	}
}

func listed(t *testing.T, args filters.Args, all bool) string {
	t.Helper()
	imgs := testImages()
	resolve := func(ref string) (*image.Image, error) {
		for _, img := range imgs {
			for _, tag := range img.RepoTags {
				if tag == ref {
					return img, nil
				}
			}
		}
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	f, err := NewImageListFilter(args, all, resolve)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var ids []string
	for _, img := range imgs {
		if f.Match(img) {
			ids = append(ids, img.ID)
		}
	}
	return strings.Join(ids, ",")
}

func TestImageListFilter(t *testing.T) {
	cases := []struct {
		args filters.Args
		all  bool
		want string
	}{
		{filters.NewArgs(), false, "old,mid"},
		{filters.NewArgs(), true, "old,mid,new"},
		{filters.NewArgs(filters.Arg("dangling", "true")), false, "new"},
		{filters.NewArgs(filters.Arg("dangling", "false")), true, "old,mid"},
		{filters.NewArgs(filters.Arg("reference", "mine/*")), false, "mid"},
		{filters.NewArgs(filters.Arg("reference", "*/pier-test/busybox:latest")), false, "old"},
		{filters.NewArgs(filters.Arg("label", "app=web")), false, "mid"},
		{filters.NewArgs(filters.Arg("label", "app")), false, "mid"},
		{filters.NewArgs(filters.Arg("before", "mine/app:v1")), true, "old"},
		{filters.NewArgs(filters.Arg("since", "mine/app:v1")), true, "new"},
		{filters.NewArgs(filters.Arg("until", "2024-01-01T00:30:00Z")), true, "old"},
	}
	for _, c := range cases {
		if got := listed(t, c.args, c.all); got != c.want {
			t.Errorf("%v all=%v: listed %q, want %q", c.args, c.all, got, c.want)
		}
	}
}

func TestImageListFilterRejects(t *testing.T) {
	for _, args := range []filters.Args{
		filters.NewArgs(filters.Arg("color", "red")),
		filters.NewArgs(filters.Arg("dangling", "maybe")),
		filters.NewArgs(filters.Arg("before", "nope:latest")),
		filters.NewArgs(filters.Arg("until", "not-a-time")),
	} {
		_, err := NewImageListFilter(args, false, func(ref string) (*image.Image, error) {
			return nil, errdefs.NotFoundf("No such image: %s", ref)
		})
		if err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestImageListFilterSummaryKeepsOnlyMatchingTags(t *testing.T) {
	img := testImages()[1]
	img.RepoTags = []string{"reg:5000/pier-test/app:latest", "mine/app:v1"}
	img.RepoDigests = []string{"reg:5000/pier-test/app@sha256:1", "mine/app@sha256:1"}
	f, err := NewImageListFilter(filters.NewArgs(filters.Arg("reference", "mine/*")), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := f.Summary(img)
	if strings.Join(sum.RepoTags, ",") != "mine/app:v1" || strings.Join(sum.RepoDigests, ",") != "mine/app@sha256:1" {
		t.Fatalf("tags %v digests %v", sum.RepoTags, sum.RepoDigests)
	}
	unfiltered, _ := NewImageListFilter(filters.NewArgs(), false, nil)
	if len(unfiltered.Summary(img).RepoTags) != 2 {
		t.Fatal("no filter: tags dropped")
	}
	if repoOf("reg:5000/app") != "reg:5000/app" || repoOf("reg:5000/app:1") != "reg:5000/app" {
		t.Fatal("repoOf")
	}
}

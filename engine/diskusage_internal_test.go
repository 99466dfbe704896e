package engine

import (
	"testing"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/image"
)

func TestImageUsageSharesLayers(t *testing.T) {
	base := image.Layer{Digest: "sha256:b", DiffID: "sha256:base", DiffSize: 100}
	a := &image.Image{ID: "sha256:a", Layers: []image.Layer{base, {Digest: "sha256:x", DiffID: "sha256:ax", DiffSize: 10}}}
	b := &image.Image{ID: "sha256:bb", Layers: []image.Layer{base, {Digest: "sha256:y", DiffID: "sha256:by", DiffSize: 20}}}
	alone := &image.Image{ID: "sha256:c", Layers: []image.Layer{{Digest: "sha256:z", DiffID: "sha256:cz", DiffSize: 5}}}
	used := []Summary{{Container: container.Container{ImageID: "sha256:a"}}, {Container: container.Container{ImageID: "sha256:a"}}}
	total, out := imageUsage([]*image.Image{a, b, alone}, used)
	if total != 135 {
		t.Fatalf("LayersSize %d, want 135 (the shared base once)", total)
	}
	want := map[string][2]int64{"sha256:a": {100, 2}, "sha256:bb": {100, 0}, "sha256:c": {0, 0}}
	for _, u := range out {
		if got := [2]int64{u.SharedSize, int64(u.Containers)}; got != want[u.ID] {
			t.Errorf("%s: SharedSize, Containers = %v, want %v", u.ID, got, want[u.ID])
		}
	}
}

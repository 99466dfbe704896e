package compat

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/image"
)

// Image inspect shows the healthcheck whole, with the start interval the
// store keeps apart from go-containerregistry's config type.
func TestImageInspectShowsTheHealthcheckStartInterval(t *testing.T) {
	img := &image.Image{ID: "sha256:abc", HealthStartInterval: 2 * time.Second, Config: v1.ConfigFile{Config: v1.Config{
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Minute, Retries: 3},
	}}}
	h := ImageInspect(img).Config.Healthcheck
	if h == nil || h.StartInterval != 2*time.Second || h.Interval != time.Minute || h.Retries != 3 || len(h.Test) != 2 {
		t.Fatalf("healthcheck %+v", h)
	}
}

package image

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// decodePlatform reads the JSON OCI platform that push (API 1.46+) and
// history (1.48+) take, with dockerd's errors; "" is no platform.
func decodePlatform(raw string) (*platform.Platform, error) {
	if raw == "" {
		return nil, nil
	}
	var p v1.Platform
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, errdefs.InvalidParameter(fmt.Errorf("failed to parse platform: %w", err))
	}
	if p.OS == "" && p.Architecture == "" && (p.Variant != "" || p.OSVersion != "" || len(p.OSFeatures) > 0) {
		return nil, errdefs.InvalidParameterf("optional platform fields provided, but OS and Architecture are missing")
	}
	if p.OS == "" || p.Architecture == "" {
		return nil, errdefs.InvalidParameterf("both OS and Architecture must be provided")
	}
	out, err := platform.FromV1(p)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return &out, nil
}

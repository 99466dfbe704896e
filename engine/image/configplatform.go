package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// configPlatform is the platform an image's config names. A config that
// names none (no os, no architecture: the registry's or the archive's
// word, not pier's) is an invalid parameter, not a nil dereference.
func configPlatform(cfg *v1.ConfigFile) (platform.Platform, error) {
	p := cfg.Platform()
	if p == nil {
		return platform.Platform{}, errdefs.InvalidParameterf("the image's config names no platform (os and architecture are empty)")
	}
	return platform.FromV1(*p)
}

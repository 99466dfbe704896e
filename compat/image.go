package compat

import (
	"path"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/go-connections/nat"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pier-vm/pier/engine/image"
)

// ImageConfig converts an image config to Docker's container config shape.
func ImageConfig(c v1.Config) *container.Config {
	cfg := &container.Config{
		User:       c.User,
		Env:        c.Env,
		Cmd:        c.Cmd,
		Entrypoint: c.Entrypoint,
		WorkingDir: c.WorkingDir,
		Labels:     c.Labels,
		StopSignal: c.StopSignal,
		OnBuild:    c.OnBuild,
		Shell:      c.Shell,
	}
	if len(c.ExposedPorts) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		for p := range c.ExposedPorts {
			cfg.ExposedPorts[nat.Port(p)] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		cfg.Volumes = map[string]struct{}{}
		for v := range c.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cfg
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// inspectConfig is the image config as image inspect shows it, with the
// healthcheck's start interval kept apart by the store.
func inspectConfig(c v1.Config, healthStartInterval time.Duration) *dockerspec.DockerOCIImageConfig {
	out := &dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			User:       c.User,
			Env:        c.Env,
			Entrypoint: c.Entrypoint,
			Cmd:        c.Cmd,
			WorkingDir: c.WorkingDir,
			Labels:     c.Labels,
			StopSignal: c.StopSignal,
		},
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{OnBuild: c.OnBuild, Shell: c.Shell},
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, StartInterval: healthStartInterval, Retries: h.Retries}
	}
	return out
}

// ImageInspect converts a stored image to Docker's inspect response.
func ImageInspect(img *image.Image) imagetypes.InspectResponse {
	layers := make([]string, 0, len(img.Layers))
	for _, l := range img.Layers {
		layers = append(layers, l.DiffID)
	}
	created := ""
	if !img.Created.IsZero() {
		created = img.Created.UTC().Format(time.RFC3339Nano)
	}
	// dockerd shows the comment of the config's last history entry (a
	// commit's -m) when the config has none of its own.
	comment := ""
	if h := img.Config.History; len(h) > 0 {
		comment = h[len(h)-1].Comment
	}
	return imagetypes.InspectResponse{
		ID:           img.ID,
		RepoTags:     nonNil(img.RepoTags),
		RepoDigests:  nonNil(img.RepoDigests),
		Comment:      comment,
		Created:      created,
		Author:       img.Config.Author,
		Config:       inspectConfig(img.Config.Config, img.HealthStartInterval),
		Architecture: img.Platform.Architecture,
		Variant:      img.Platform.Variant,
		Os:           img.Platform.OS,
		Size:         img.Size,
		GraphDriver:  storage.DriverData{Name: "pier-ext4", Data: map[string]string{}},
		RootFS:       imagetypes.RootFS{Type: "layers", Layers: layers},
		Metadata:     imagetypes.Metadata{},
	}
}

// ImageSummary converts a stored image to a `docker images` line.
func ImageSummary(img *image.Image) imagetypes.Summary {
	return imagetypes.Summary{
		ID:          img.ID,
		ParentID:    "",
		RepoTags:    nonNil(img.RepoTags),
		RepoDigests: nonNil(img.RepoDigests),
		Created:     img.Created.Unix(),
		Size:        img.Size,
		SharedSize:  -1,
		Containers:  -1,
		Labels:      img.Config.Config.Labels,
	}
}

// ImageMatchesReference is `docker images --filter reference=PATTERN`:
// the pattern is matched against each tag, and against the repository.
func ImageMatchesReference(img *image.Image, pattern string) bool {
	for _, t := range img.RepoTags {
		if globMatch(pattern, t) {
			return true
		}
		if repo, _, ok := strings.Cut(t, ":"); ok && !strings.Contains(pattern, ":") && globMatch(pattern, repo) {
			return true
		}
		if i := strings.LastIndex(t, ":"); i > 0 && !strings.Contains(pattern, ":") && globMatch(pattern, t[:i]) {
			return true
		}
	}
	return false
}

// globMatch is path.Match that treats a malformed pattern as no match.
func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

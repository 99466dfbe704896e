package engine

import (
	"context"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/pkg/namesgenerator"
	"github.com/docker/docker/pkg/stringid"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/restart"
	"github.com/pier-vm/pier/errdefs"
)

// CreateRequest is `docker create`.
type CreateRequest struct {
	// Name is the wanted name ("" = generated).
	Name string
	// Platform, when set, selects the image for that platform.
	Platform   *platform.Platform
	Config     container.Config
	HostConfig container.HostConfig
	// Endpoints is NetworkingConfig.EndpointsConfig, by network name or ID.
	Endpoints map[string]*container.Endpoint
}

// CreateResult is what create reports.
type CreateResult struct {
	ID       string
	Warnings []string
}

// ContainerCreate creates a container from a local image. A missing image
// is "No such image" (not found), which makes the docker CLI pull and retry.
func (s *Containers) ContainerCreate(ctx context.Context, req CreateRequest) (CreateResult, error) {
	if req.Config.Image == "" {
		return CreateResult{}, errdefs.InvalidParameterf("config cannot be empty in order to create a container")
	}
	var wantName string
	if req.Name != "" {
		n, err := container.ValidateName(req.Name)
		if err != nil {
			return CreateResult{}, err
		}
		wantName = n
	}
	memMiB, cpus, err := vmSize(req.HostConfig)
	if err != nil {
		return CreateResult{}, err
	}
	if err := restart.Validate(req.HostConfig.RestartPolicy, req.HostConfig.AutoRemove); err != nil {
		return CreateResult{}, err
	}
	_, logWarnings, err := logSettings(req.HostConfig)
	if err != nil {
		return CreateResult{}, err
	}
	mode, endpoints, err := s.resolveEndpoints(req.HostConfig.NetworkMode, req.Endpoints)
	if err != nil {
		return CreateResult{}, err
	}
	req.HostConfig.NetworkMode = mode
	links, err := s.checkLinks(req.HostConfig)
	if err != nil {
		return CreateResult{}, err
	}
	img, err := s.images.Resolve(req.Config.Image, req.Platform)
	if err != nil {
		return CreateResult{}, err
	}
	if pc, ok := s.runtime.(PlatformChecker); ok {
		if err := pc.CheckPlatform(img.Platform); err != nil {
			return CreateResult{}, err
		}
	}

	// Until the container is registered, its volumes must not be removed
	// (it does not count as their user yet); if it is not, the anonymous
	// volumes made for it go, as dockerd cleans up a failed create.
	s.volMu.RLock()
	defer s.volMu.RUnlock()
	cfg := mergeImageConfig(req.Config, img)
	path, args := entrypointAndArgs(cfg.Entrypoint, cfg.Cmd)
	if path == "" {
		return CreateResult{}, errdefs.InvalidParameterf("no command specified")
	}
	mounts, err := s.resolveMounts(req.HostConfig, cfg.Volumes)
	if err != nil {
		return CreateResult{}, err
	}
	registered := false
	defer func() {
		if !registered {
			s.dropAnonymousVolumes(mounts)
		}
	}()
	id := stringid.GenerateRandomID()
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	c := container.Container{
		ID:                  id,
		Created:             time.Now().UTC(),
		Path:                path,
		Args:                args,
		Config:              cfg,
		HostConfig:          req.HostConfig,
		ImageID:             img.ID,
		ImageRef:            pinnedReference(req.Config.Image, img),
		ImageManifestDigest: img.ManifestDigest,
		Platform:            img.Platform,
		State:               container.State{Status: container.StatusCreated},
		MemoryMiB:           memMiB,
		CPUs:                cpus,
		Networks:            endpoints,
		MountPoints:         mounts,
	}
	if c.Name, err = s.reserveName(id, wantName); err != nil {
		return CreateResult{}, err
	}
	if usesLegacyLinks(c.HostConfig.NetworkMode) {
		c.HostConfig.Links = storedLinks(links, c.Name)
	}
	if err := s.store.Save(c); err != nil {
		s.names.Remove(id)
		_ = s.store.Delete(id)
		return CreateResult{}, err
	}
	s.mu.Lock()
	s.byID[id] = s.newCtr(c)
	s.mu.Unlock()
	registered = true
	s.publish(c, "create", nil)
	return CreateResult{ID: id, Warnings: append([]string{}, logWarnings...)}, nil
}

// reserveName takes name, or a generated adjective_surname when empty.
func (s *Containers) reserveName(id, name string) (string, error) {
	if name != "" {
		return name, s.names.Add(id, name)
	}
	for retry := 0; ; retry++ {
		n := "/" + namesgenerator.GetRandomName(retry)
		if err := s.names.Add(id, n); err == nil {
			return n, nil
		} else if retry > 10 {
			return "", err
		}
	}
}

// vmSize turns the HostConfig's limits into the VM's memory and vCPUs.
func vmSize(hc container.HostConfig) (memMiB, cpus int, err error) {
	const mib = 1 << 20
	memMiB = DefaultMemoryMiB
	if hc.Memory < 0 {
		return 0, 0, errdefs.InvalidParameterf("invalid memory limit %d", hc.Memory)
	}
	if hc.Memory > 0 {
		if hc.Memory < 6*mib {
			return 0, 0, errdefs.InvalidParameterf("Minimum memory limit allowed is 6MB")
		}
		memMiB = int((hc.Memory + mib - 1) / mib)
		memMiB = max(memMiB, MinMemoryMiB)
	}
	host := runtime.NumCPU()
	cpus = DefaultCPUs
	switch {
	case hc.NanoCPUs < 0 || hc.CPUCount < 0:
		return 0, 0, errdefs.InvalidParameterf("invalid CPU limit")
	case hc.NanoCPUs > 0 && hc.CPUCount > 0:
		return 0, 0, errdefs.InvalidParameterf("Conflicting options: CPU count and Nano CPUs cannot both be set")
	case hc.NanoCPUs > 0:
		if hc.NanoCPUs > int64(host)*1e9 {
			return 0, 0, errdefs.InvalidParameterf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", host, host)
		}
		cpus = int((hc.NanoCPUs + 1e9 - 1) / 1e9)
	case hc.CPUCount > 0:
		cpus = int(min(hc.CPUCount, int64(host)))
	}
	return memMiB, cpus, nil
}

// mergeImageConfig fills what the create request left out from the image's
// config, as dockerd does.
func mergeImageConfig(user container.Config, img *image.Image) container.Config {
	ic := img.Config.Config
	out := user
	out.Env = mergeEnv(ic.Env, user.Env)
	if len(user.Entrypoint) == 0 {
		if len(user.Cmd) == 0 {
			out.Cmd = ic.Cmd
			out.ArgsEscaped = ic.ArgsEscaped
		}
		if user.Entrypoint == nil {
			out.Entrypoint = ic.Entrypoint
		}
	}
	if out.WorkingDir == "" {
		out.WorkingDir = ic.WorkingDir
	}
	if out.User == "" {
		out.User = ic.User
	}
	if out.StopSignal == "" {
		out.StopSignal = ic.StopSignal
	}
	if len(ic.Labels) > 0 {
		labels := maps.Clone(ic.Labels)
		maps.Copy(labels, user.Labels)
		out.Labels = labels
	}
	out.ExposedPorts = unionKeys(user.ExposedPorts, ic.ExposedPorts)
	out.Volumes = unionKeys(user.Volumes, ic.Volumes)
	if out.Shell == nil {
		out.Shell = ic.Shell
	}
	if out.OnBuild == nil {
		out.OnBuild = ic.OnBuild
	}
	out.Healthcheck = mergeHealthcheck(user.Healthcheck, img)
	return out
}

// mergeEnv appends user entries to the image's, a user entry replacing the
// image entry of the same name.
func mergeEnv(imageEnv, userEnv []string) []string {
	if len(imageEnv) == 0 {
		return userEnv
	}
	out := slices.Clone(imageEnv)
	index := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		index[k] = i
	}
	for _, kv := range userEnv {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func unionKeys[V any](user []string, fromImage map[string]V) []string {
	if len(fromImage) == 0 {
		return user
	}
	out := slices.Clone(user)
	for _, k := range slices.Sorted(maps.Keys(fromImage)) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func mergeHealthcheck(user *container.Healthcheck, img *image.Image) *container.Healthcheck {
	ih := img.Config.Config.Healthcheck
	if ih == nil {
		return user
	}
	fromImage := &container.Healthcheck{
		Test:          ih.Test,
		Interval:      ih.Interval,
		Timeout:       ih.Timeout,
		StartPeriod:   ih.StartPeriod,
		StartInterval: img.HealthStartInterval,
		Retries:       ih.Retries,
	}
	if user == nil {
		return fromImage
	}
	out := *user
	if len(out.Test) == 0 {
		out.Test = fromImage.Test
	}
	if out.Interval == 0 {
		out.Interval = fromImage.Interval
	}
	if out.Timeout == 0 {
		out.Timeout = fromImage.Timeout
	}
	if out.StartPeriod == 0 {
		out.StartPeriod = fromImage.StartPeriod
	}
	if out.StartInterval == 0 {
		out.StartInterval = fromImage.StartInterval
	}
	if out.Retries == 0 {
		out.Retries = fromImage.Retries
	}
	return &out
}

// entrypointAndArgs resolves the process: entrypoint + cmd. An entrypoint
// of [""] means "no entrypoint".
func entrypointAndArgs(entrypoint, cmd []string) (string, []string) {
	if len(entrypoint) == 1 && entrypoint[0] == "" {
		entrypoint = nil
	}
	argv := append(slices.Clone(entrypoint), cmd...)
	if len(argv) == 0 {
		return "", nil
	}
	return argv[0], argv[1:]
}

// pinnedReference returns repo@digest for the repository the user named,
// so the container never drifts to another image when the tag moves.
func pinnedReference(typed string, img *image.Image) string {
	want := repositoryOf(typed)
	for _, rd := range img.RepoDigests {
		if want != "" && repositoryOf(rd) == want {
			return rd
		}
	}
	if len(img.RepoDigests) > 0 {
		return img.RepoDigests[0]
	}
	return img.ID
}

func repositoryOf(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ""
	}
	return r.Context().Name()
}

// processEnv is the environment of c's processes: the legacy links'
// variables of its run, then its own, which win.
func processEnv(c container.Container) []string { return mergeEnv(c.LinkEnv, c.Config.Env) }

// processSpec is the main process of c.
func processSpec(c container.Container) ProcessSpec {
	return ProcessSpec{
		Args:        append([]string{c.Path}, c.Args...),
		Env:         processEnv(c),
		WorkingDir:  c.Config.WorkingDir,
		User:        c.Config.User,
		Groups:      c.HostConfig.GroupAdd,
		Tty:         c.Config.Tty,
		ConsoleSize: c.HostConfig.ConsoleSize,
	}
}

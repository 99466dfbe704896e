// Package compat converts between the Docker Engine API types
// (github.com/docker/docker/api/types) and the engine's own types, and reads
// Docker's query conventions (filters, timestamps). It holds no state.
package compat

import (
	"maps"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/strslice"
	"github.com/docker/go-connections/nat"
	"github.com/docker/go-units"

	enginecontainer "github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// ContainerConfigFromAPI converts a create request's Config and HostConfig
// (hc may be nil) to the engine's, validating ports.
func ContainerConfigFromAPI(cfg *container.Config, hc *container.HostConfig) (enginecontainer.Config, enginecontainer.HostConfig, error) {
	if cfg == nil {
		return enginecontainer.Config{}, enginecontainer.HostConfig{}, errdefs.InvalidParameterf("config cannot be empty in order to create a container")
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	exposed, err := portKeys(cfg.ExposedPorts)
	if err != nil {
		return enginecontainer.Config{}, enginecontainer.HostConfig{}, err
	}
	bindings, err := portBindingsFromAPI(hc.PortBindings)
	if err != nil {
		return enginecontainer.Config{}, enginecontainer.HostConfig{}, err
	}
	out := enginecontainer.Config{
		Hostname:     cfg.Hostname,
		Domainname:   cfg.Domainname,
		User:         cfg.User,
		AttachStdin:  cfg.AttachStdin,
		AttachStdout: cfg.AttachStdout,
		AttachStderr: cfg.AttachStderr,
		ExposedPorts: exposed,
		Tty:          cfg.Tty,
		OpenStdin:    cfg.OpenStdin,
		StdinOnce:    cfg.StdinOnce,
		Env:          cfg.Env,
		Cmd:          cfg.Cmd,
		Entrypoint:   cfg.Entrypoint,
		Image:        cfg.Image,
		Volumes:      slices.Sorted(maps.Keys(cfg.Volumes)),
		WorkingDir:   cfg.WorkingDir,
		Labels:       cfg.Labels,
		StopSignal:   cfg.StopSignal,
		StopTimeout:  cfg.StopTimeout,
		ArgsEscaped:  cfg.ArgsEscaped,
		OnBuild:      cfg.OnBuild,
		Shell:        cfg.Shell,
	}
	if h := cfg.Healthcheck; h != nil {
		out.Healthcheck = &enginecontainer.Healthcheck{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	}
	host := enginecontainer.HostConfig{
		Binds:           hc.Binds,
		PortBindings:    bindings,
		PublishAllPorts: hc.PublishAllPorts,
		AutoRemove:      hc.AutoRemove,
		RestartPolicy:   enginecontainer.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount},
		NetworkMode:     string(hc.NetworkMode),
		ExtraHosts:      hc.ExtraHosts,
		DNS:             hc.DNS,
		DNSOptions:      hc.DNSOptions,
		DNSSearch:       hc.DNSSearch,
		Privileged:      hc.Privileged,
		Init:            hc.Init,
		CapAdd:          hc.CapAdd,
		CapDrop:         hc.CapDrop,
		ReadonlyRootfs:  hc.ReadonlyRootfs,
		Tmpfs:           hc.Tmpfs,
		VolumesFrom:     hc.VolumesFrom,
		GroupAdd:        hc.GroupAdd,
		Links:           hc.Links,
		ShmSize:         hc.ShmSize,
		Memory:          hc.Memory,
		NanoCPUs:        hc.NanoCPUs,
		CPUCount:        hc.CPUCount,
		ConsoleSize:     hc.ConsoleSize,
		LogType:         hc.LogConfig.Type,
		LogConfig:       hc.LogConfig.Config,
		Sysctls:         hc.Sysctls,
	}
	for _, m := range hc.Mounts {
		em := enginecontainer.Mount{
			Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Consistency: string(m.Consistency),
		}
		if m.VolumeOptions != nil {
			em.NoCopy = m.VolumeOptions.NoCopy
		}
		if m.TmpfsOptions != nil {
			em.TmpfsSize, em.TmpfsMode = m.TmpfsOptions.SizeBytes, uint32(m.TmpfsOptions.Mode.Perm())
		}
		host.Mounts = append(host.Mounts, em)
	}
	for _, u := range hc.Ulimits {
		if u != nil {
			host.Ulimits = append(host.Ulimits, enginecontainer.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	return out, host, nil
}

// portKeys validates and normalises exposed ports ("80" -> "80/tcp").
func portKeys(set nat.PortSet) ([]string, error) {
	if len(set) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(set))
	for p := range set {
		np, err := normalisePort(string(p))
		if err != nil {
			return nil, err
		}
		out = append(out, np)
	}
	slices.Sort(out)
	return out, nil
}

func normalisePort(p string) (string, error) {
	proto, port := nat.SplitProtoPort(p)
	if _, err := nat.ParsePort(port); err != nil || port == "" {
		return "", errdefs.InvalidParameterf("invalid port specification: %q", p)
	}
	np, err := nat.NewPort(proto, port)
	if err != nil {
		return "", errdefs.InvalidParameterf("invalid port specification: %q", p)
	}
	return string(np), nil
}

func portBindingsFromAPI(pm nat.PortMap) (map[string][]enginecontainer.PortBinding, error) {
	if len(pm) == 0 {
		return nil, nil
	}
	out := make(map[string][]enginecontainer.PortBinding, len(pm))
	for p, bs := range pm {
		key, err := normalisePort(string(p))
		if err != nil {
			return nil, err
		}
		list := []enginecontainer.PortBinding{}
		for _, b := range bs {
			if b.HostPort != "" {
				if _, _, err := nat.ParsePortRange(b.HostPort); err != nil {
					return nil, errdefs.InvalidParameterf("invalid port specification: %q", b.HostPort)
				}
			}
			list = append(list, enginecontainer.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
		out[key] = list
	}
	return out, nil
}

// containerConfigToAPI converts the engine's Config back for inspect.
func containerConfigToAPI(c enginecontainer.Config) *container.Config {
	out := &container.Config{
		Hostname:     c.Hostname,
		Domainname:   c.Domainname,
		User:         c.User,
		AttachStdin:  c.AttachStdin,
		AttachStdout: c.AttachStdout,
		AttachStderr: c.AttachStderr,
		Tty:          c.Tty,
		OpenStdin:    c.OpenStdin,
		StdinOnce:    c.StdinOnce,
		Env:          c.Env,
		Cmd:          strslice.StrSlice(c.Cmd),
		Image:        c.Image,
		WorkingDir:   c.WorkingDir,
		Entrypoint:   strslice.StrSlice(c.Entrypoint),
		OnBuild:      c.OnBuild,
		Labels:       c.Labels,
		StopSignal:   c.StopSignal,
		StopTimeout:  c.StopTimeout,
		ArgsEscaped:  c.ArgsEscaped,
		Shell:        c.Shell,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = nat.PortSet{}
		for _, p := range c.ExposedPorts {
			out.ExposedPorts[nat.Port(p)] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for _, v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &container.HealthConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	}
	return out
}

// hostConfigToAPI converts the engine's HostConfig back for inspect, with
// dockerd's defaults for what was left empty.
func hostConfigToAPI(h enginecontainer.HostConfig) *container.HostConfig {
	out := &container.HostConfig{
		Binds:           h.Binds,
		LogConfig:       container.LogConfig{Type: h.LogType, Config: h.LogConfig},
		NetworkMode:     container.NetworkMode(h.NetworkMode),
		PortBindings:    nat.PortMap{},
		RestartPolicy:   container.RestartPolicy{Name: container.RestartPolicyMode(h.RestartPolicy.Name), MaximumRetryCount: h.RestartPolicy.MaximumRetryCount},
		AutoRemove:      h.AutoRemove,
		ConsoleSize:     h.ConsoleSize,
		CapAdd:          h.CapAdd,
		CapDrop:         h.CapDrop,
		DNS:             orEmpty(h.DNS),
		DNSOptions:      orEmpty(h.DNSOptions),
		DNSSearch:       orEmpty(h.DNSSearch),
		ExtraHosts:      h.ExtraHosts,
		Privileged:      h.Privileged,
		PublishAllPorts: h.PublishAllPorts,
		ReadonlyRootfs:  h.ReadonlyRootfs,
		Tmpfs:           h.Tmpfs,
		VolumesFrom:     h.VolumesFrom,
		GroupAdd:        h.GroupAdd,
		Links:           h.Links,
		ShmSize:         h.ShmSize,
		Sysctls:         h.Sysctls,
		Init:            h.Init,
		CgroupnsMode:    container.CgroupnsModePrivate,
		IpcMode:         container.IpcMode("private"),
		Resources: container.Resources{
			Memory:   h.Memory,
			NanoCPUs: h.NanoCPUs,
			CPUCount: h.CPUCount,
		},
	}
	if out.LogConfig.Type == "" {
		out.LogConfig.Type = "json-file"
	}
	if out.LogConfig.Config == nil {
		out.LogConfig.Config = map[string]string{}
	}
	if out.NetworkMode == "" {
		out.NetworkMode = "bridge"
	}
	if out.RestartPolicy.Name == "" {
		out.RestartPolicy.Name = container.RestartPolicyDisabled
	}
	if out.ShmSize == 0 {
		out.ShmSize = 64 << 20
	}
	for p, bs := range h.PortBindings {
		list := []nat.PortBinding{}
		for _, b := range bs {
			list = append(list, nat.PortBinding{HostIP: b.HostIP, HostPort: b.HostPort})
		}
		out.PortBindings[nat.Port(p)] = list
	}
	for _, m := range h.Mounts {
		out.Mounts = append(out.Mounts, mount.Mount{
			Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Consistency: mount.Consistency(m.Consistency),
		})
	}
	for _, u := range h.Ulimits {
		out.Ulimits = append(out.Ulimits, &units.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// commandLine is how `docker ps` shows a container's command.
func commandLine(path string, args []string) string {
	return strings.Join(append([]string{path}, args...), " ")
}

package commitconfig

import (
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/container"
)

// Merge fills what user (the request's config with the changes applied)
// leaves out from the container's config, as dockerd's merge does: user,
// working directory, stop signal and volumes when unset; exposed ports,
// environment (by name) and labels added; Cmd and Entrypoint only when
// user has no Entrypoint; health check fields one by one.
func Merge(user, ctr container.Config) container.Config {
	out := clone(user)
	if out.User == "" {
		out.User = ctr.User
	}
	for _, p := range ctr.ExposedPorts {
		if !slices.Contains(out.ExposedPorts, p) {
			out.ExposedPorts = append(out.ExposedPorts, p)
		}
	}
	for _, kv := range ctr.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(out.Env, func(e string) bool { ek, _, _ := strings.Cut(e, "="); return ek == k }) {
			out.Env = append(out.Env, kv)
		}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	for k, v := range ctr.Labels {
		if _, ok := out.Labels[k]; !ok {
			out.Labels[k] = v
		}
	}
	if len(out.Entrypoint) == 0 {
		if len(out.Cmd) == 0 {
			out.Cmd = slices.Clone(ctr.Cmd)
		}
		if out.Entrypoint == nil {
			out.Entrypoint = slices.Clone(ctr.Entrypoint)
		}
	}
	if h := ctr.Healthcheck; h != nil {
		if out.Healthcheck == nil {
			hc := *h
			out.Healthcheck = &hc
		} else {
			if len(out.Healthcheck.Test) == 0 {
				out.Healthcheck.Test = h.Test
			}
			if out.Healthcheck.Interval == 0 {
				out.Healthcheck.Interval = h.Interval
			}
			if out.Healthcheck.Timeout == 0 {
				out.Healthcheck.Timeout = h.Timeout
			}
			if out.Healthcheck.StartPeriod == 0 {
				out.Healthcheck.StartPeriod = h.StartPeriod
			}
			if out.Healthcheck.StartInterval == 0 {
				out.Healthcheck.StartInterval = h.StartInterval
			}
			if out.Healthcheck.Retries == 0 {
				out.Healthcheck.Retries = h.Retries
			}
		}
	}
	if out.WorkingDir == "" {
		out.WorkingDir = ctr.WorkingDir
	}
	for _, v := range ctr.Volumes {
		if !slices.Contains(out.Volumes, v) {
			out.Volumes = append(out.Volumes, v)
		}
	}
	if out.StopSignal == "" {
		out.StopSignal = ctr.StopSignal
	}
	return out
}

// HealthStartInterval is c's healthcheck start interval, which an image's
// run configuration (ImageConfig) carries apart.
func HealthStartInterval(c container.Config) time.Duration {
	if c.Healthcheck == nil {
		return 0
	}
	return c.Healthcheck.StartInterval
}

// ImageConfig is c as an image's run configuration: every field dockerd
// keeps from a committed container's config.
func ImageConfig(c container.Config) v1.Config {
	out := v1.Config{
		Hostname: c.Hostname, Domainname: c.Domainname, User: c.User,
		AttachStdin: c.AttachStdin, AttachStdout: c.AttachStdout, AttachStderr: c.AttachStderr,
		Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce,
		Env: slices.Clone(c.Env), Cmd: slices.Clone(c.Cmd), Entrypoint: slices.Clone(c.Entrypoint),
		Image: c.Image, WorkingDir: c.WorkingDir, Labels: maps.Clone(c.Labels),
		StopSignal: c.StopSignal, ArgsEscaped: c.ArgsEscaped,
		OnBuild: slices.Clone(c.OnBuild), Shell: slices.Clone(c.Shell),
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for _, p := range c.ExposedPorts {
			out.ExposedPorts[p] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for _, v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &v1.HealthConfig{
			Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
		}
	}
	return out
}

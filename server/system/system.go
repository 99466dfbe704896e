// Package system serves the daemon-wide routes: /_ping, /version and
// /info (Router), POST /auth (AuthRouter) and GET /system/df
// (DiskUsageRouter), each router over its own small backend.
package system

import (
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/server/httputils"
	"github.com/pier-vm/pier/version"
)

// Backend is what the system routes need from the engine.
type Backend interface {
	SystemInfo() engine.SystemInfo
}

// Options are daemon facts the engine does not know.
type Options struct {
	InsecureRegistries []string
	// ID is the daemon's stable identity (docker info's ID); the host
	// name when empty.
	ID string
	// BuildKit says the daemon serves BuildKit (/grpc and /session):
	// /_ping then announces Builder-Version 2, as dockerd does.
	BuildKit bool
}

// Router serves the system routes.
type Router struct {
	backend Backend
	opts    Options
	id      string
	name    string
}

// NewRouter returns the system router.
func NewRouter(b Backend, opts Options) *Router {
	host, _ := os.Hostname()
	id := opts.ID
	if id == "" {
		id = host
	}
	return &Router{backend: b, opts: opts, id: id, name: host}
}

// Routes lists the system routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/_ping", Handler: r.getPing},
		{Method: http.MethodHead, Path: "/_ping", Handler: r.getPing},
		{Method: http.MethodGet, Path: "/version", Handler: r.getVersion},
		{Method: http.MethodGet, Path: "/info", Handler: r.getInfo},
	}
}

func (r *Router) getPing(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	h := w.Header()
	if r.opts.BuildKit {
		h.Set("Builder-Version", "2")
	} else {
		h.Set("Builder-Version", "1")
	}
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	if req.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		return nil
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (r *Router) getVersion(w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	v := types.Version{
		Platform:      struct{ Name string }{Name: "pier"},
		Version:       version.Version,
		APIVersion:    version.MaxAPIVersion,
		MinAPIVersion: version.MinAPIVersion,
		GitCommit:     version.GitCommit,
		GoVersion:     version.GoVersion(),
		Os:            "linux",
		Arch:          runtime.GOARCH,
		KernelVersion: kernelVersion(),
		BuildTime:     version.BuildTime,
	}
	v.Components = []types.ComponentVersion{{
		Name:    "Engine",
		Version: version.Version,
		Details: map[string]string{
			"ApiVersion":    version.MaxAPIVersion,
			"MinAPIVersion": version.MinAPIVersion,
			"GitCommit":     version.GitCommit,
			"GoVersion":     version.GoVersion(),
			"Os":            "linux",
			"Arch":          runtime.GOARCH,
			"KernelVersion": v.KernelVersion,
			"BuildTime":     version.BuildTime,
			"Experimental":  "false",
		},
	}}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

// unameMachine is the architecture as `uname -m` spells it (docker info's
// Architecture field).
func unameMachine() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func (r *Router) getInfo(w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	e := r.backend.SystemInfo()
	labels := []string{"pier.driver=" + e.Driver, "pier.accel=" + e.Accel, "pier.vm-start=" + e.VMStart}
	if e.VMStarts != "" {
		labels = append(labels, "pier.vm-starts="+e.VMStarts)
	}
	for _, p := range e.Emulates {
		labels = append(labels, "pier.emulates="+p)
	}
	osName := "pier (containers in " + strings.ToUpper(e.Accel) + " microVMs)"
	info := system.Info{
		ID:                 r.id,
		Name:               r.name,
		Containers:         e.Containers,
		ContainersRunning:  e.Running,
		ContainersPaused:   e.Paused,
		ContainersStopped:  e.Stopped,
		Images:             e.Images,
		Driver:             "pier-ext4",
		DriverStatus:       [][2]string{{"VM driver", e.Driver}, {"Acceleration", e.Accel}},
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "none",
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName,
		OSVersion:          version.Version,
		OSType:             "linux",
		Architecture:       unameMachine(),
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     registryConfig(r.opts.InsecureRegistries),
		NCPU:               runtime.NumCPU(),
		MemTotal:           memTotal(),
		DockerRootDir:      e.Root,
		Labels:             labels,
		ServerVersion:      version.Version,
		DefaultRuntime:     "pier",
		Runtimes:           map[string]system.RuntimeWithStatus{"pier": {Runtime: system.Runtime{Path: "pierd"}}},
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		SecurityOptions:    []string{"name=vm"},
		LiveRestoreEnabled: e.LiveRestore,
	}
	return httputils.WriteJSON(w, http.StatusOK, info)
}

// registryConfig is docker info's registry section, as dockerd shows it:
// loopback registries are always reached over plain HTTP, and each
// --insecure-registry is an insecure index.
func registryConfig(insecure []string) *registry.ServiceConfig {
	cfg := &registry.ServiceConfig{
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: []string{}, Secure: true, Official: true},
		},
	}
	for _, cidr := range []string{"127.0.0.0/8", "::1/128"} {
		if _, n, err := net.ParseCIDR(cidr); err == nil {
			cfg.InsecureRegistryCIDRs = append(cfg.InsecureRegistryCIDRs, (*registry.NetIPNet)(n))
		}
	}
	for _, reg := range insecure {
		cfg.IndexConfigs[reg] = &registry.IndexInfo{Name: reg, Mirrors: []string{}, Secure: false}
	}
	return cfg
}

// Package container is the engine's model of a container (what `docker
// create` asked for, merged with its image, plus its state) and the store
// that persists it under <root>/<id>/config.json and finds it again by ID,
// ID prefix or name.
package container

import (
	"path"
	"time"

	"github.com/pier-vm/pier/engine/platform"
)

// Container is one container as persisted. It is a plain value: copies
// share slices and maps, which are therefore never modified in place.
type Container struct {
	ID string
	// Name carries Docker's leading slash ("/web").
	Name    string
	Created time.Time
	// Path and Args are the resolved process (entrypoint + cmd).
	Path string
	Args []string
	// Config is the create request merged with the image's config.
	Config Config
	// HostConfig is the create request's host configuration.
	HostConfig HostConfig
	// ImageID is the image's config digest ("sha256:...").
	ImageID string
	// ImageRef is the digest-pinned reference the container runs
	// ("busybox@sha256:..."), so a later pull never changes it.
	ImageRef string
	// ImageManifestDigest identifies the platform manifest.
	ImageManifestDigest string
	Platform            platform.Platform
	State               State
	// RestartCount counts the restarts by the restart policy since the
	// last start by the user.
	RestartCount int
	// ManuallyStopped is set when the user stopped or killed the container
	// and cleared when the user starts it (the unless-stopped policy).
	ManuallyStopped bool `json:",omitempty"`
	// LogStart is where the current (or last) run's records start in the
	// container's log file: a daemon that adopts the running container
	// counts the run's output from there (live restore).
	LogStart int64 `json:",omitempty"`
	// LinkEnv are the legacy links' variables of the current (or last) run,
	// kept for the exec'd processes of a daemon that adopts it.
	LinkEnv []string `json:",omitempty"`
	// MemoryMiB and CPUs size the VM.
	MemoryMiB int
	CPUs      int
	// Networks are the container's endpoints, by network name.
	Networks map[string]*Endpoint
	// Ports are the published ports while the container runs, by
	// "port/proto" (nil entries: exposed, not published).
	Ports map[string][]PortBinding
	// MountPoints are the resolved bind mounts, volumes and tmpfs mounts.
	MountPoints []MountPoint
}

// Mount point types, as Docker names them.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// MountPoint is one mount of a container, resolved at create: a host
// directory or file (bind), a volume's directory (volume), or a tmpfs.
type MountPoint struct {
	Type string
	// Name is the volume's name (volume only).
	Name string
	// Source is the host path: the bind source or the volume's directory.
	Source      string
	Destination string
	RW          bool
	// Mode is the -v mode as given ("ro", "z", ...).
	Mode        string
	Propagation string
	// TmpfsOptions are the tmpfs mount options ("size=64m,mode=1777").
	TmpfsOptions string
	// Anonymous volumes go with the container (rm -v).
	Anonymous bool
	// NoCopy keeps an empty volume empty (no copy of the image's content).
	NoCopy bool `json:",omitempty"`
}

// ListedMountPoints are the mount points dockerd lists (inspect's and
// ps's Mounts, `ps --filter volume=`): all but the --tmpfs ones
// (HostConfig.Tmpfs), which dockerd mounts without making them mount
// points of the container.
func (c Container) ListedMountPoints() []MountPoint {
	out := make([]MountPoint, 0, len(c.MountPoints))
	for _, mp := range c.MountPoints {
		if mp.Type == MountTmpfs && c.isTmpfsFlag(mp.Destination) {
			continue
		}
		out = append(out, mp)
	}
	return out
}

func (c Container) isTmpfsFlag(dst string) bool {
	for t := range c.HostConfig.Tmpfs {
		if path.Clean(t) == dst {
			return true
		}
	}
	return false
}

// Endpoint is a container's attachment to a network. The configuration
// part comes from create and connect; the address part is set while the
// container runs.
type Endpoint struct {
	NetworkID string
	// Aliases are the --network-alias names (Compose's service names).
	Aliases []string
	// IPv4Address is the requested address (--ip), "" for any.
	IPv4Address string
	Links       []string
	DriverOpts  map[string]string
	// DesiredMacAddress is the requested MAC address ("" for one derived
	// from the address).
	DesiredMacAddress string

	EndpointID  string
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	// DNSNames are the names the container answers to on this network.
	DNSNames []string
}

// Clone is a deep copy of e.
func (e *Endpoint) Clone() *Endpoint {
	if e == nil {
		return nil
	}
	out := *e
	out.Aliases = append([]string(nil), e.Aliases...)
	out.Links = append([]string(nil), e.Links...)
	out.DNSNames = append([]string(nil), e.DNSNames...)
	return &out
}

// ClearAddress forgets the run-time part of e (stop).
func (e *Endpoint) ClearAddress() {
	e.EndpointID, e.IPAddress, e.IPPrefixLen, e.Gateway = "", "", 0, ""
	e.MacAddress = e.DesiredMacAddress
	e.DNSNames = nil
}

// Config is the portable configuration of a container.
type Config struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	// ExposedPorts are "port/proto" ("80/tcp").
	ExposedPorts []string
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Entrypoint   []string
	// Image is the image as the user typed it.
	Image       string
	Volumes     []string
	WorkingDir  string
	Labels      map[string]string
	StopSignal  string
	StopTimeout *int
	Healthcheck *Healthcheck
	ArgsEscaped bool
	OnBuild     []string
	Shell       []string
}

// Healthcheck is the container's health probe.
type Healthcheck struct {
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// HostConfig is the host-dependent configuration of a container.
type HostConfig struct {
	Binds []string
	// PortBindings maps "port/proto" to host bindings.
	PortBindings    map[string][]PortBinding
	PublishAllPorts bool
	AutoRemove      bool
	RestartPolicy   RestartPolicy
	NetworkMode     string
	Mounts          []Mount
	ExtraHosts      []string
	DNS             []string
	DNSOptions      []string
	DNSSearch       []string
	Privileged      bool
	Init            *bool
	CapAdd          []string
	CapDrop         []string
	ReadonlyRootfs  bool
	Tmpfs           map[string]string
	// Links are legacy links on the default bridge, as dockerd records
	// them: "/name:/parent/alias" (engine/containers_links.go).
	Links []string `json:",omitempty"`
	// GroupAdd are supplementary groups (names in the container's
	// /etc/group, or gids) for every process of the container.
	GroupAdd []string `json:",omitempty"`
	// VolumesFrom are "container[:ro|:rw]": that container's mounts are
	// this one's too (engine/containers_volumesfrom.go).
	VolumesFrom []string `json:",omitempty"`
	ShmSize     int64
	Memory      int64
	NanoCPUs    int64
	CPUCount    int64
	ConsoleSize [2]uint
	LogType     string
	LogConfig   map[string]string
	Sysctls     map[string]string
	Ulimits     []Ulimit
}

// PortBinding is one host address a container port is published on.
type PortBinding struct {
	HostIP   string
	HostPort string
}

// RestartPolicy says when the engine restarts an exited container.
type RestartPolicy struct {
	Name              string
	MaximumRetryCount int
}

// Mount is a mount from the create request's HostConfig.Mounts.
type Mount struct {
	Type        string
	Source      string
	Target      string
	ReadOnly    bool
	Consistency string
	// NoCopy skips filling an empty volume from the image (volume).
	NoCopy bool `json:",omitempty"`
	// TmpfsSize (bytes) and TmpfsMode are the tmpfs options (tmpfs).
	TmpfsSize int64  `json:",omitempty"`
	TmpfsMode uint32 `json:",omitempty"`
}

// Ulimit is a resource limit for the container process.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}

// Status values of a container, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusRemoving   = "removing"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// State is where a container is in its life.
type State struct {
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	OOMKilled  bool
	Dead       bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	// Health is the health check's state; nil for a container without a
	// check that has never run one.
	Health *Health `json:",omitempty"`
}

// Health statuses, as Docker names them; HealthNone is a container without
// a health check (for `docker ps --filter health=`).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthNone      = "none"
)

// Health is a container's health: its status, the number of failed
// probes in a row and the last probes' results (oldest first).
type Health struct {
	Status        string
	FailingStreak int
	Log           []HealthResult
}

// HealthResult is one probe of a health check.
type HealthResult struct {
	Start    time.Time
	End      time.Time
	ExitCode int
	Output   string
}

// Clone is a deep copy of h.
func (h *Health) Clone() *Health {
	if h == nil {
		return nil
	}
	out := *h
	out.Log = append([]HealthResult(nil), h.Log...)
	return &out
}

// SetRunning records a successful start (the health state is kept: the
// health monitor resets it).
func (s *State) SetRunning(pid int, at time.Time) {
	*s = State{Status: StatusRunning, Running: true, Pid: pid, StartedAt: at, Health: s.Health}
}

// SetRestarting records the end of the main process of a container that
// its restart policy will start again: Docker counts it as running.
func (s *State) SetRestarting(code int, at time.Time) {
	s.Status = StatusRestarting
	s.Running, s.Restarting, s.Paused = true, true, false
	s.Pid = 0
	s.ExitCode = code
	s.FinishedAt = at
}

// SetExited records the end of the main process.
func (s *State) SetExited(code int, oomKilled bool, errMsg string, at time.Time) {
	s.Status = StatusExited
	s.Running, s.Paused, s.Restarting = false, false, false
	s.Pid = 0
	s.ExitCode = code
	s.OOMKilled = oomKilled
	s.Error = errMsg
	s.FinishedAt = at
}

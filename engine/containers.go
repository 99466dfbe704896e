package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/containerlog"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/internal/atomicfile"
)

// Container resource defaults, documented for `docker create` users: a
// container without limits gets a VM of DefaultMemoryMiB and DefaultCPUs;
// smaller memory limits are raised to MinMemoryMiB, which a guest kernel
// needs to boot.
const (
	DefaultMemoryMiB = 512
	MinMemoryMiB     = 128
	DefaultCPUs      = 1
)

// defaultStopTimeout is Docker's grace period before SIGKILL.
const defaultStopTimeout = 10 * time.Second

// ContainersConfig configures the container service.
type ContainersConfig struct {
	// Root is the directory holding one sub-directory per container.
	Root    string
	Runtime Runtime
	Images  image.API
	Events  *events.Bus
	Log     *slog.Logger
	// NetworksFile is where the networks are persisted (default
	// Root/networks.json).
	NetworksFile string
	// VolumesDir holds the volumes (default Root/../volumes).
	VolumesDir string
	// HostGateways, when set, is told the networks' gateways whenever
	// they change.
	HostGateways HostGateways
	// LiveRestore keeps containers running when the daemon stops, and
	// makes the next daemon adopt them (needs a Runtime that is a
	// SandboxAdopter); without it a stopping daemon stops them.
	LiveRestore bool
	// NetworkOptions configure the networks' registry (where datapaths
	// run: network.WithHelpers).
	NetworkOptions []network.Option
}

// Containers is the container service: create, run, stop and remove
// containers, stream their output, run execs. Every state change is
// persisted before it is reported.
type Containers struct {
	runtime Runtime
	images  image.API
	events  *events.Bus
	log     *slog.Logger
	store   *container.Store
	names   *container.Index
	nets    *network.Registry
	volumes *volume.Store
	// hostGateways is ContainersConfig.HostGateways; hostGwMu serialises
	// its calls.
	hostGateways HostGateways
	hostGwMu     sync.Mutex
	// volMu keeps a volume from being removed between the moment a create
	// resolves its mounts and the moment the container is registered (and
	// so counts as a user): creates hold it shared, removals exclusively.
	volMu sync.RWMutex

	mu    sync.RWMutex
	byID  map[string]*ctr
	execs map[string]*execInstance

	// liveRestore is ContainersConfig.LiveRestore (with an adopting
	// runtime).
	liveRestore bool
	// shuttingDown is set by Shutdown: exits then restart nothing.
	shuttingDown atomic.Bool
}

// ctr is a container known to the engine: its persisted value plus what
// only lives while the daemon runs.
type ctr struct {
	// op serialises lifecycle operations (start, stop, restart, remove).
	op sync.Mutex

	mu  sync.Mutex
	c   container.Container
	run *run // non-nil while running
	// maint is the maintenance VM serving file operations while the
	// container is not running (nil when none is up).
	maint    *maintenance
	removing bool
	removed  bool
	exits    int // exits seen since the daemon started
	changed  chan struct{}
	execIDs  []string
	// restarts is the restart supervisor's state (guarded by mu).
	restarts restartState

	log    *containerlog.Log
	output *hub
	stdin  *stdinPipe
}

// run is one run of a container's main process.
type run struct {
	sandbox Sandbox
	// net holds the run's published ports and addresses.
	net *netAttachment
	// done is closed once the exit was recorded.
	done chan struct{}
	// healthMu guards healthStop, which stops the run's health monitor
	// and waits for it (nil without a running monitor).
	healthMu   sync.Mutex
	healthStop func()
	// pauseMu serialises pausing and resuming the run's VM; frozen is
	// what its guest showed when it was paused (guarded by ctr.mu).
	pauseMu sync.Mutex
	frozen  *frozenView
}

// stopHealth stops the run's health monitor, if any, and waits for it.
func (r *run) stopHealth() {
	r.healthMu.Lock()
	stop := r.healthStop
	r.healthStop = nil
	r.healthMu.Unlock()
	if stop != nil {
		stop()
	}
}

// NewContainers loads the persisted containers under cfg.Root. Containers
// that were running when the previous daemon stopped are adopted when the
// runtime can (containers_adopt.go), else recorded as exited.
func NewContainers(cfg ContainersConfig) (*Containers, error) {
	if cfg.Runtime == nil || cfg.Images == nil {
		return nil, errors.New("containers: a runtime and an image service are required")
	}
	if cfg.Events == nil {
		cfg.Events = events.NewBus()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	store, err := container.NewStore(cfg.Root)
	if err != nil {
		return nil, err
	}
	if cfg.NetworksFile == "" {
		cfg.NetworksFile = filepath.Join(cfg.Root, "networks.json")
	}
	nets, err := network.Open(cfg.NetworksFile, cfg.NetworkOptions...)
	if err != nil {
		return nil, err
	}
	if cfg.VolumesDir == "" {
		cfg.VolumesDir = filepath.Join(filepath.Dir(cfg.Root), "volumes")
	}
	vols, err := volume.Open(cfg.VolumesDir)
	if err != nil {
		return nil, err
	}
	s := &Containers{
		runtime: cfg.Runtime,
		images:  cfg.Images,
		events:  cfg.Events,
		log:     cfg.Log,
		store:   store,
		names:   container.NewIndex(),
		nets:    nets,
		volumes: vols,
		byID:    map[string]*ctr{},
		execs:   map[string]*execInstance{},

		hostGateways: cfg.HostGateways,
	}
	adopter, canAdopt := cfg.Runtime.(SandboxAdopter)
	canAdopt = canAdopt && cfg.LiveRestore
	s.liveRestore = canAdopt
	var toAdopt []*ctr
	loaded, errs := store.LoadAll()
	for _, err := range errs {
		s.log.Warn("skipping unreadable container", "err", err)
	}
	for _, c := range loaded {
		// A writable disk a killed pierd was writing: never linked into
		// place, it goes (the next start writes it anew).
		atomicfile.SweepTemps(s.writableDisk(c.ID))
		adopt := canAdopt && (c.State.Running || c.State.Paused) && c.State.Status != container.StatusRemoving
		if !adopt && (c.State.Running || c.State.Paused || c.State.Restarting || c.State.Status == container.StatusRemoving) {
			c.State.SetExited(255, false, "", time.Now().UTC())
			if h := c.State.Health; h != nil {
				ended := h.Clone()
				ended.Status = container.HealthUnhealthy
				c.State.Health = ended
			}
			clearNetworkState(&c)
			if err := store.Save(c); err != nil {
				return nil, err
			}
		}
		if err := s.names.Add(c.ID, c.Name); err != nil {
			s.log.Warn("skipping container with a duplicate name", "id", c.ID, "err", err)
			continue
		}
		x := s.newCtr(c)
		s.byID[c.ID] = x
		if adopt {
			toAdopt = append(toAdopt, x)
		}
	}
	if len(toAdopt) > 0 {
		n := s.adoptRunning(context.Background(), adopter, toAdopt)
		s.log.Info("containers that outlived the previous daemon", "adopted", n, "gone", len(toAdopt)-n)
	}
	s.syncHostGateways()
	return s, nil
}

// Events is the bus the service publishes to.
func (s *Containers) Events() *events.Bus { return s.events }

func (s *Containers) newCtr(c container.Container) *ctr {
	log := containerlog.New(filepath.Join(s.store.Dir(c.ID), "container.log"))
	if r, _, err := logSettings(c.HostConfig); err == nil { // checked at create
		log.SetRotation(r)
	}
	return &ctr{
		c:       c,
		changed: make(chan struct{}),
		log:     log,
		output:  newHub(),
		stdin:   newStdinPipe(),
	}
}

// get finds a container by ID, unique ID prefix or name.
func (s *Containers) get(ref string) (*ctr, error) {
	id, err := s.names.Lookup(ref)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	x, ok := s.byID[id]
	if !ok {
		return nil, errNoSuchContainer(ref)
	}
	return x, nil
}

// notifyLocked wakes everything waiting on a state change; x.mu is held.
func (x *ctr) notifyLocked() {
	close(x.changed)
	x.changed = make(chan struct{})
}

// snapshot returns a copy of the container (slices and maps are shared,
// and never modified in place).
func (x *ctr) snapshot() container.Container {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.c
}

// saveLocked persists the container; x.mu is held.
func (s *Containers) saveLocked(x *ctr) error {
	return s.store.Save(x.c)
}

// Info is a container as inspect shows it.
type Info struct {
	container.Container
	// RemovalInProgress is set while the container is being removed.
	RemovalInProgress bool
	LogPath           string
	ExecIDs           []string
	// SizeRw is the size of the container's writable disk on the host.
	SizeRw int64
}

// ContainerInspect returns a container by ID, ID prefix or name.
func (s *Containers) ContainerInspect(ref string) (*Info, error) {
	x, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	return x.info(), nil
}

func (x *ctr) info() *Info {
	x.mu.Lock()
	defer x.mu.Unlock()
	return &Info{
		Container:         x.c,
		RemovalInProgress: x.removing,
		LogPath:           x.log.Path(),
		ExecIDs:           append([]string(nil), x.execIDs...),
	}
}

// all returns every container, newest first.
func (s *Containers) all() []*ctr {
	s.mu.RLock()
	out := make([]*ctr, 0, len(s.byID))
	for _, x := range s.byID {
		out = append(out, x)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		ci, cj := out[i].snapshot(), out[j].snapshot()
		if !ci.Created.Equal(cj.Created) {
			return ci.Created.After(cj.Created)
		}
		return ci.ID < cj.ID
	})
	return out
}

// publish sends a container event with the container's name, image and
// labels as attributes, plus extra.
func (s *Containers) publish(c container.Container, action string, extra map[string]string) {
	attrs := make(map[string]string, len(c.Config.Labels)+2+len(extra))
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["name"] = trimSlash(c.Name)
	attrs["image"] = c.Config.Image
	for k, v := range extra {
		attrs[k] = v
	}
	s.events.Publish(events.Event{
		Type:   events.TypeContainer,
		Action: action,
		Actor:  events.Actor{ID: c.ID, Attributes: attrs},
	})
}

func trimSlash(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return name[1:]
	}
	return name
}

// stdinPipe is a container's stdin: attach clients write into it, the
// running process reads from it. It is renewed after every run.
type stdinPipe struct {
	mu sync.Mutex
	r  *io.PipeReader
	w  *io.PipeWriter
}

func newStdinPipe() *stdinPipe {
	r, w := io.Pipe()
	return &stdinPipe{r: r, w: w}
}

// reader is what the next run reads.
func (p *stdinPipe) reader() io.Reader {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.r
}

// writer is where attach clients write.
func (p *stdinPipe) writer() *io.PipeWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w
}

// renew ends the current pipe (releasing its reader) and makes a new one.
func (p *stdinPipe) renew() {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.r.Close()
	_ = p.w.Close()
	p.r, p.w = io.Pipe()
}

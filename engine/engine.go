// Package engine is pier's core: containers (each a microVM through the
// Runtime seam), images (engine/image), events. It speaks its own types
// only: no net/http and no Docker API types below this line.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/network"
)

// Config configures an Engine.
type Config struct {
	// Root is the data root; containers live under Root/containers.
	Root string
	// Images is the image service.
	Images image.API
	// Runtime boots container VMs.
	Runtime Runtime
	// Driver and Accel describe the VM driver for `docker info`.
	Driver, Accel string
	// Emulates lists the foreign platforms the runtime can run.
	Emulates []string
	Logger   *slog.Logger
	// HostGateways, when set, puts the networks' gateways on the host.
	HostGateways HostGateways
	// LiveRestore keeps containers running while the daemon is down
	// (ContainersConfig.LiveRestore).
	LiveRestore bool
	// VMStart, when set, says how VMs start and how many started each way
	// (`docker info`; see SystemInfo).
	VMStart func() (mode, counts string)
	// NetworkHelper, when set, is the command that runs a network's
	// datapath in a helper process of its own (pierd's binary and
	// net-helper; engine/vnet/netd), which outlives the daemon; the
	// helpers live in Root/networks. Unset: datapaths run in this process.
	NetworkHelper []string
}

// Engine ties containers, images and events together.
type Engine struct {
	*Containers
	images imageEvents
	cfg    Config
}

// New opens the engine's state under cfg.Root.
func New(cfg Config) (*Engine, error) {
	if cfg.Root == "" || cfg.Images == nil || cfg.Runtime == nil {
		return nil, errors.New("engine: a root, an image service and a runtime are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	bus := events.NewBus()
	images := imageEvents{API: cfg.Images, bus: bus}
	netOpts := []network.Option{network.WithLogger(cfg.Logger)}
	if len(cfg.NetworkHelper) > 0 {
		netOpts = append(netOpts, network.WithHelpers(filepath.Join(cfg.Root, "networks"), cfg.NetworkHelper...))
	}
	containers, err := NewContainers(ContainersConfig{
		Root:    filepath.Join(cfg.Root, "containers"),
		Runtime: cfg.Runtime,
		Images:  images,
		Events:  bus,
		Log:     cfg.Logger,
		// Networks and volumes are the data root's, beside containers/.
		NetworksFile:   filepath.Join(cfg.Root, "networks.json"),
		VolumesDir:     filepath.Join(cfg.Root, "volumes"),
		HostGateways:   cfg.HostGateways,
		LiveRestore:    cfg.LiveRestore,
		NetworkOptions: netOpts,
	})
	if err != nil {
		return nil, err
	}
	// The containers are loaded (those still running taken back): the
	// network helpers a previous daemon left serve only them.
	containers.nets.StopIdle()
	return &Engine{Containers: containers, images: images, cfg: cfg}, nil
}

// Images is the image service.
func (e *Engine) Images() image.API { return e.images }

// Subscribe streams the engine's events (history first).
func (e *Engine) Subscribe() ([]events.Event, <-chan events.Event, func()) {
	return e.Events().Subscribe()
}

// Shutdown stops the running containers (SIGTERM, then their VMs are
// killed when ctx ends), so no VM outlives the daemon, then the networks'
// datapaths, helpers included; with LiveRestore it leaves the containers
// running for the next daemon instead, and their networks' helpers too.
func (e *Engine) Shutdown(ctx context.Context) {
	e.Containers.Shutdown(ctx)
	if e.Containers.liveRestore {
		e.Containers.nets.Disconnect()
		return
	}
	e.Containers.nets.Close()
}

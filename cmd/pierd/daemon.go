package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vmruntime"
	"github.com/pier-vm/pier/server"
	"github.com/pier-vm/pier/server/apiroutes"
	systemrouter "github.com/pier-vm/pier/server/system"
)

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// engineStopTimeout is how long running containers get to exit on SIGTERM
// when pierd shuts down, like dockerd's default stop timeout.
const engineStopTimeout = 10 * time.Second

// runDaemon starts pierd and serves until SIGINT or SIGTERM.
func runDaemon(ctx context.Context, o options) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dataRoot, 0o711); err != nil {
		return err
	}
	unlock, err := lockDataRoot(o.dataRoot)
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkTCPHosts(o.hosts, o.tls, log); err != nil {
		return err
	}
	tlsConfig, err := o.tls.serverConfig()
	if err != nil {
		return err
	}
	// Open the sockets first: a live daemon on one of them stops us before
	// anything else happens.
	var listeners []net.Listener
	for _, h := range o.hosts {
		l, err := server.Listen(h, tlsConfig)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}

	eng, drv, builder, err := newEngine(o, log)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return err
	}
	id, err := daemonID(o.dataRoot)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		eng.Shutdown(context.Background())
		return err
	}
	var buildKit apiroutes.Builder
	if builder.Available() {
		buildKit = builder
	} else {
		log.Info("no image builder: docker build is not served", "missing", filepath.Join(o.guestDir, "builder-root.tar"))
	}
	srv := server.New(log, apiroutes.Routers(eng, buildKit, systemrouter.Options{InsecureRegistries: o.insecureRegistries, ID: id})...)
	errc := make(chan error, len(listeners))
	for i, l := range listeners {
		log.Info("serving the Docker API", "addr", o.hosts[i])
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	log.Info("pierd ready", "data-root", o.dataRoot, "driver", drv.Name(), "accel", drv.Accel())
	// Containers whose restart policy says so come back, as under dockerd.
	eng.StartRestartable(context.Background())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	var serveErr error
	select {
	case s := <-sigs:
		log.Info("shutting down", "signal", s.String())
	case serveErr = <-errc:
		log.Error("serving failed; shutting down", "err", serveErr)
	}
	httpCtx, cancelHTTP := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelHTTP()
	if err := srv.Shutdown(httpCtx); err != nil {
		log.Warn("requests still in flight were cut off", "err", err)
	}
	// Containers get SIGTERM and engineStopTimeout to exit; then their VMs
	// are killed, so none outlives the daemon.
	engCtx, cancelEng := context.WithTimeout(context.Background(), engineStopTimeout)
	defer cancelEng()
	eng.Shutdown(engCtx)
	builder.Close()
	closeTemplates(drv)
	for _, h := range o.hosts {
		if proto, target, err := server.ParseAddr(h); err == nil && proto == "unix" {
			os.Remove(target)
		}
	}
	log.Info("pierd stopped")
	return serveErr
}

// newEngine wires the guest assets, the platform's VM driver (newDriver:
// QEMU on Linux, vz on macOS), the VM runtime and the image service into
// an engine.
func newEngine(o options, log *slog.Logger) (*engine.Engine, vm.Driver, *build.Builder, error) {
	assets, err := guestassets.Prepare(o.guestDir, filepath.Join(o.dataRoot, "assets"))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("guest assets: %w", err)
	}
	drv, caps, err := newDriver(o, assets, log)
	if err != nil {
		return nil, nil, nil, err
	}
	raw := drv
	drv = withTemplates(o, drv, log)
	rt := vmruntime.New(drv, assets,
		vmruntime.WithLogger(log),
		vmruntime.WithEmulation(filepath.Join(o.dataRoot, "emul"), caps),
	)
	helper, err := netHelper()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("network helpers: %w", err)
	}
	images, err := image.New(filepath.Join(o.dataRoot, "image"),
		image.WithInsecureRegistries(o.insecureRegistries),
		image.WithLogger(log),
	)
	if err != nil {
		return nil, nil, nil, err
	}
	eng, err := engine.New(engine.Config{
		Root:     o.dataRoot,
		Images:   images,
		Runtime:  rt,
		Driver:   drv.Name(),
		Accel:    drv.Accel(),
		Emulates: rt.Emulates(),
		Logger:   log,
		// The networks' gateways on a host interface of pier's own, as
		// dockerd's docker0 has 172.17.0.1 (docs/networking.md).
		HostGateways: hostGateways(),
		VMStart:      vmStart(rt),
		LiveRestore:  o.liveRestore,
		// Each network's datapath in a helper process that outlives
		// pierd (engine/vnet/netd).
		NetworkHelper: helper,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if eng == nil {
		return nil, nil, nil, errors.New("no engine")
	}
	// The engine adopted the VMs of containers that were running (live
	// restore); any other VM a previous daemon left on a container's
	// disks is stopped before the engine serves.
	stopLeftoverVMs(context.Background(), raw, filepath.Join(o.dataRoot, "containers"), eng.RunningIDs(), log)
	prepareTemplates(rt, log)
	// The image builder (docker build): a builder VM of its own, started
	// on the first build, when `make builder` made its root file system.
	builder := build.New(build.Config{
		Runtime: rt,
		Images:  images,
		RootTar: filepath.Join(o.guestDir, "builder-root.tar"),
		Dir:     filepath.Join(o.dataRoot, "builder"),
		Network: eng.BridgeNetwork,
		Logger:  log,
		// 0 on the command line is "never"; in build.Config a negative.
		IdleTimeout: cmp.Or(o.builderIdle, -1),
	})
	// A builder VM a killed pierd left running goes (in the background:
	// taking it over waits for its agent).
	go builder.Recover(context.Background())
	return eng, drv, builder, nil
}

// daemonID is the daemon's stable identity, a UUID kept in the data root
// (docker info's ID, as dockerd keeps its engine-id).
func daemonID(dataRoot string) (string, error) {
	path := filepath.Join(dataRoot, "engine-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	id := uuid.NewString()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return id, nil
}

// lockDataRoot makes sure only one pierd uses a data root.
func lockDataRoot(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "pierd.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another pierd is using the data root %s", dir)
	}
	return func() { f.Close() }, nil
}

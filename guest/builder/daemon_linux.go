package builder

import (
	"context"
	"errors"
	"fmt"
	"github.com/pier-vm/pier/guest/builder/dialstdio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	ctdsnapshot "github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/plugins/snapshots/native"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay/overlayutils"
	"github.com/containerd/platforms"
	"github.com/gofrs/flock"
	"github.com/moby/buildkit/cache/remotecache"
	inlineremotecache "github.com/moby/buildkit/cache/remotecache/inline"
	localremotecache "github.com/moby/buildkit/cache/remotecache/local"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/control"
	"github.com/moby/buildkit/executor/oci"
	"github.com/moby/buildkit/executor/runcexecutor"
	"github.com/moby/buildkit/frontend"
	dockerfile "github.com/moby/buildkit/frontend/dockerfile/builder"
	"github.com/moby/buildkit/frontend/gateway"
	"github.com/moby/buildkit/frontend/gateway/forwarder"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/solver"
	"github.com/moby/buildkit/solver/bboltcachestorage"
	"github.com/moby/buildkit/util/apicaps"
	"github.com/moby/buildkit/util/db/boltutil"
	"github.com/moby/buildkit/util/grpcerrors"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto" // the gRPC codec buildkitd registers
	"github.com/moby/buildkit/util/network/netproviders"
	"github.com/moby/buildkit/version"
	bkworker "github.com/moby/buildkit/worker"
	"github.com/moby/buildkit/worker/base"
	"github.com/moby/buildkit/worker/label"
	"github.com/moby/buildkit/worker/runc"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthv1 "google.golang.org/grpc/health/grpc_health_v1"
)

func init() {
	apicaps.ExportedProduct = "buildkit"
}

// Defaults of `pier-buildkitd`.
const (
	DefaultSocket = dialstdio.DefaultSocket
	DefaultRoot   = "/var/lib/pier-buildkit"
)

// Config is what Serve runs with.
type Config struct {
	// Root is the state directory; Socket the unix socket of the gRPC API.
	Root, Socket string
	// Snapshotter is "auto" (overlayfs when Root's file system can hold
	// overlayfs upper directories, native otherwise), "overlayfs" or
	// "native".
	Snapshotter string
	// NoPivot runs RUN steps with `runc run --no-pivot`: the builder VM's
	// root is where its init chrooted to after MS_MOVE from the initramfs,
	// where pivot_root(2) fails.
	NoPivot bool
	// Runc is the runc binary; empty: runc on PATH, else /usr/sbin/runc.
	Runc string
	// In and Out are the protocol's stdio (pierd's replies, our requests).
	In  io.Reader
	Out io.Writer
}

// Serve runs the daemon until ctx ends: it writes the ready line on Out
// once the gRPC API serves on Socket.
func Serve(ctx context.Context, cfg Config) error {
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	lock := flock.New(filepath.Join(root, "buildkitd.lock"))
	locked, err := lock.TryLock()
	if err != nil {
		return fmt.Errorf("locking %s: %w", root, err)
	}
	if !locked {
		return fmt.Errorf("%s is in use by another pier-buildkitd", root)
	}
	defer lock.Unlock()

	if err := ensureCgroup2(); err != nil {
		return err
	}
	runcPath, err := findRunc(cfg.Runc)
	if err != nil {
		return err
	}

	host := NewHost(cfg.In, cfg.Out)
	platform := platforms.Format(platforms.Normalize(platforms.DefaultSpec()))
	bridge, err := NewBridge(host, root, platform)
	if err != nil {
		return err
	}
	bridgeSock := filepath.Join(root, "registry", "bridge.sock")
	bl, err := listenUnix(bridgeSock)
	if err != nil {
		return err
	}
	defer bl.Close()
	go func() {
		if err := bridge.Serve(bl); err != nil {
			logrus.Errorf("builder: the registry bridge stopped: %v", err)
		}
	}()
	hosts := RegistryHosts(Client(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", bridgeSock)
	}))

	sm, err := session.NewManager()
	if err != nil {
		return err
	}
	w, err := newWorker(ctx, root, cfg, runcPath, hosts)
	if err != nil {
		return err
	}
	wc := &bkworker.Controller{}
	if err := wc.Add(w); err != nil {
		return err
	}
	logrus.Infof("builder: worker %s, labels %v", w.ID(), w.Labels())

	frontends := map[string]frontend.Frontend{
		"dockerfile.v0": forwarder.NewGatewayForwarder(wc.Infos(), dockerfile.Build),
	}
	gw, err := gateway.NewGatewayFrontend(wc.Infos(), nil)
	if err != nil {
		return err
	}
	frontends["gateway.v0"] = gw

	cacheStorage, err := bboltcachestorage.NewStore(filepath.Join(root, "cache.db"))
	if err != nil {
		return err
	}
	historyDB, err := boltutil.Open(filepath.Join(root, "history.db"), 0o600, nil)
	if err != nil {
		return err
	}
	// Remote caches: local and inline. A registry cache would go to the
	// bridge, which reaches no registry.
	ctrl, err := control.NewController(control.Opt{
		SessionManager:   sm,
		WorkerController: wc,
		Frontends:        frontends,
		ResolveCacheExporterFuncs: map[string]remotecache.ResolveCacheExporterFunc{
			"local":  localremotecache.ResolveCacheExporterFunc(sm),
			"inline": inlineremotecache.ResolveCacheExporterFunc(),
		},
		ResolveCacheImporterFuncs: map[string]remotecache.ResolveCacheImporterFunc{
			"local": localremotecache.ResolveCacheImporterFunc(sm),
		},
		CacheManager:   solver.NewCacheManager(ctx, "local", cacheStorage, bkworker.NewCacheResultStorage(wc)),
		HistoryDB:      historyDB,
		CacheStore:     cacheStorage,
		LeaseManager:   w.LeaseManager(),
		ContentStore:   w.ContentStore(),
		GarbageCollect: w.GarbageCollect,
		GracefulStop:   ctx.Done(),
	})
	if err != nil {
		return err
	}
	defer ctrl.Close()

	server := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcerrors.UnaryServerInterceptor),
		grpc.StreamInterceptor(grpcerrors.StreamServerInterceptor),
		grpc.MaxRecvMsgSize(defaults.DefaultMaxRecvMsgSize),
		grpc.MaxSendMsgSize(defaults.DefaultMaxSendMsgSize),
	)
	healthv1.RegisterHealthServer(server, health.NewServer())
	ctrl.Register(server)

	l, err := listenUnix(cfg.Socket)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(l) }()
	logrus.Infof("builder: serving on %s", cfg.Socket)
	if err := host.Ready(); err != nil {
		server.Stop()
		return fmt.Errorf("writing the ready line: %w", err)
	}

	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { server.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		server.Stop()
	}
	return err
}

// newWorker is buildkitd's OCI (runc) worker, with the bridge as every
// registry, host networking (the VM is the sandbox: its NIC is on pier's
// network) and the `moby` exporter.
func newWorker(ctx context.Context, root string, cfg Config, runcPath string, hosts func(string) ([]dockerRegistryHost, error)) (*worker, error) {
	sn, err := snapshotter(root, cfg.Snapshotter)
	if err != nil {
		return nil, err
	}
	opt, err := runc.NewWorkerOpt(root, sn, false, oci.ProcessSandbox, nil, nil,
		netproviders.Opt{Mode: "host"}, nil, runcPath, "", false, nil, "", "", nil)
	if err != nil {
		return nil, err
	}
	// runc.NewWorkerOpt has no say on --no-pivot: its executor is
	// replaced by one made the same way with NoPivot set.
	exe, err := runcexecutor.New(runcexecutor.Opt{
		Root:              filepath.Join(opt.Root, "executor"),
		CommandCandidates: []string{runcPath},
		ProcessMode:       oci.ProcessSandbox,
		NoPivot:           cfg.NoPivot,
		ResourceMonitor:   opt.ResourceMonitor,
	}, opt.NetworkProviders)
	if err != nil {
		return nil, err
	}
	opt.Executor = exe
	opt.RegistryHosts = hosts
	// buildx's docker driver reads this label as "dockerd with the
	// containerd image store" and then asks for attestations (the moby
	// export becomes an index, whose digest `build -q` prints) and allows
	// multi-platform builds. pier stores images as dockerd's classic
	// store does, one config per image ID: without the label buildx
	// treats pier as that dockerd.
	delete(opt.Labels, label.Snapshotter)
	opt.BuildkitVersion = client.BuildkitVersion{Package: version.Package, Version: version.Version, Revision: version.Revision}
	// GC: keep at most 10 GB of build cache (the builder's disk is
	// pier's), dropping what is older than two days first.
	opt.GCPolicy = []client.PruneInfo{
		{KeepDuration: 48 * time.Hour},
		{MaxUsedSpace: 10 << 30},
	}
	w, err := base.NewWorker(ctx, opt)
	if err != nil {
		return nil, err
	}
	return &worker{Worker: w}, nil
}

// snapshotter picks the snapshotter. The builder VM's root is an
// overlayfs, and an overlayfs upper directory cannot be on an overlayfs:
// there "auto" takes native (a copy per snapshot, slower and bigger, but
// it works on any file system). overlayfs with its state on a tmpfs would
// work too but holds every layer in the VM's memory. When Root is on a
// real file system (a disk pierd gives the builder), overlayutils.Supported
// mounts a test overlay there and "auto" takes overlayfs.
func snapshotter(root, name string) (runc.SnapshotterFactory, error) {
	if name == "" || name == "auto" {
		name = "native"
		if err := overlayutils.Supported(root); err == nil {
			name = "overlayfs"
		} else {
			logrus.Infof("builder: overlayfs does not work in %s (%v): native snapshotter", root, err)
		}
	}
	switch name {
	case "native":
		return runc.SnapshotterFactory{Name: name, New: native.NewSnapshotter}, nil
	case "overlayfs":
		return runc.SnapshotterFactory{Name: name, New: func(root string) (ctdsnapshot.Snapshotter, error) {
			return overlay.NewSnapshotter(root, overlay.AsynchronousRemove)
		}}, nil
	}
	return runc.SnapshotterFactory{}, fmt.Errorf("unknown snapshotter %q (auto, native or overlayfs)", name)
}

func findRunc(p string) (string, error) {
	if p != "" {
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/runc"); err == nil {
		return "/usr/sbin/runc", nil
	}
	return "", errors.New("no runc: neither on PATH nor /usr/sbin/runc")
}

// ensureCgroup2 mounts the cgroup2 hierarchy on /sys/fs/cgroup when
// nothing is mounted there (runc needs it).
func ensureCgroup2() error {
	const dir = "/sys/fs/cgroup"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var st, parent unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if err := unix.Statfs("/sys", &parent); err != nil {
		return err
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC || st.Type == unix.TMPFS_MAGIC || st.Type != parent.Type {
		return nil
	}
	if err := unix.Mount("cgroup2", dir, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting cgroup2 on %s: %w", dir, err)
	}
	logrus.Infof("builder: mounted cgroup2 on %s", dir)
	return nil
}

// ProtocolStdout keeps the protocol's stdout to itself: it returns a
// duplicate of fd 1 and points fd 1 (and os.Stdout) at stderr, so that
// nothing else the process runs or prints reaches pierd as a request line.
func ProtocolStdout() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("duplicating stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		return nil, fmt.Errorf("pointing stdout at stderr: %w", err)
	}
	os.Stdout = os.Stderr
	return os.NewFile(uintptr(fd), "protocol"), nil
}

// listenUnix listens on path, replacing a stale socket.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

package vmruntime

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/guest/proto"
)

// File access (docker cp, diff, export): the guest agent's file
// operations, in the running container's VM or in a maintenance VM booted
// with the container's disks and mounts that mounts its root and runs no
// process of it.

// maintenanceMemoryMiB sizes a maintenance VM: copying needs little.
const maintenanceMemoryMiB = 256

// maintenanceShutdown bounds a maintenance VM's power-off (disks synced)
// before it is killed.
const maintenanceShutdown = 30 * time.Second

// Files is the running container's file access.
func (s *sandbox) Files() engine.Files { return agentFiles{s.client} }

// OpenFiles boots a maintenance VM for a container that is not running.
func (r *Runtime) OpenFiles(ctx context.Context, req engine.RunRequest) (engine.FilesSession, error) {
	gm, err := mounts(req.Mounts)
	if err != nil {
		return nil, err
	}
	if err := ensureWritableDisk(req.WritableDisk, r.diskSize); err != nil {
		return nil, fmt.Errorf("writable disk: %w", err)
	}
	spec := r.vmSpec(req, maintenanceMemoryMiB, 1, gm.shares, nil)
	bootCtx, cancel := context.WithTimeout(ctx, r.bootTimeout)
	defer cancel()
	machine, err := r.driver.Start(bootCtx, spec)
	if err != nil {
		return nil, err
	}
	client, err := mountRoot(bootCtx, machine, gm.specs)
	if err != nil {
		machine.Kill()
		if reason := consoleReason(req.ConsoleLog); reason != "" {
			err = fmt.Errorf("%w (VM log: %s)", err, reason)
		}
		return nil, fmt.Errorf("maintenance VM for the container's files: %w", err)
	}
	return &filesSession{agentFiles: agentFiles{client}, machine: machine}, nil
}

func mountRoot(ctx context.Context, machine vm.Machine, mounts []proto.MountSpec) (*proto.Client, error) {
	ctx, cancel := watchBoot(ctx, machine)
	defer cancel(nil)
	client, err := dialAgent(ctx, machine)
	if err != nil {
		return nil, err
	}
	err = client.MountRoot(ctx, proto.ContainerSpec{
		RootDevice:     "serial:" + rootDiskSerial,
		WritableDevice: "serial:" + writableDiskSerial,
		Mounts:         mounts,
	})
	if err != nil {
		client.Close()
		return nil, bootError(ctx, err)
	}
	return client, nil
}

// filesSession is a maintenance VM.
type filesSession struct {
	agentFiles
	machine vm.Machine
	once    sync.Once
	err     error
}

// Close asks the guest to power off (it syncs its disks first), then
// waits for the VM to go; a VM that does not go is killed. Concurrent
// calls wait for the first.
func (s *filesSession) Close() error {
	s.once.Do(func() {
		_, s.err = stopGuest(s.c, s.machine, maintenanceShutdown)
	})
	return s.err
}

// agentFiles adapts the agent's file operations to engine.Files.
type agentFiles struct{ c *proto.Client }

// classify gives a guest error its errdefs class.
func classify(err error) error {
	switch proto.ErrorCodeOf(err) {
	case proto.CodeNotFound:
		return errdefs.NotFound(err)
	case proto.CodeInvalid:
		return errdefs.InvalidParameter(err)
	}
	return err
}

func pathStat(st proto.PathStat) engine.PathStat {
	return engine.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.Mtime, LinkTarget: st.LinkTarget}
}

func (f agentFiles) StatPath(ctx context.Context, path string) (engine.PathStat, error) {
	st, err := f.c.StatPath(ctx, path)
	if err != nil {
		return engine.PathStat{}, classify(err)
	}
	return pathStat(st), nil
}

func (f agentFiles) ArchivePath(ctx context.Context, path string) (engine.PathStat, io.ReadCloser, error) {
	st, rc, err := f.c.Archive(ctx, path)
	if err != nil {
		return engine.PathStat{}, nil, classify(err)
	}
	return pathStat(st), rc, nil
}

func (f agentFiles) ExtractToDir(ctx context.Context, path string, opts engine.ExtractOptions, content io.Reader) error {
	err := f.c.Extract(ctx, path, proto.ExtractOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir, ChownUser: opts.ChownUser}, content)
	return classify(err)
}

func (f agentFiles) Changes(ctx context.Context) ([]engine.Change, error) {
	changes, err := f.c.Changes(ctx)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]engine.Change, len(changes))
	for i, c := range changes {
		out[i] = engine.Change{Path: c.Path, Kind: engine.ChangeKind(c.Kind)}
	}
	return out, nil
}

func (f agentFiles) Export(ctx context.Context) (io.ReadCloser, error) {
	rc, err := f.c.Export(ctx)
	return rc, classify(err)
}

func (f agentFiles) Layer(ctx context.Context, freeze bool) (io.ReadCloser, error) {
	rc, err := f.c.Layer(ctx, freeze)
	return rc, classify(err)
}

// Package vmruntime is the real engine.Runtime: each container is a VM
// booted by a vm.Driver from the guest assets, with the image's root disk
// and the container's writable disk attached, and the main process started
// through the guest agent (guest/proto).
package vmruntime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/rwlayer"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/guest/proto"
)

var _ engine.Runtime = (*Runtime)(nil)

// Disk serial numbers the guest finds the container's disks by.
const (
	rootDiskSerial     = "pier-root"
	writableDiskSerial = "pier-rw"
)

// Defaults.
const (
	// DefaultWritableDiskSize is the size of a container's writable disk, a
	// sparse file that only takes the space the container writes.
	DefaultWritableDiskSize = 8 << 30
	// DefaultBootTimeout bounds a boot up to the agent's handshake. Boots
	// take ~3 s under TCG; many at once on two cores take far longer.
	DefaultBootTimeout = 2 * time.Minute
)

// Runtime boots container VMs.
type Runtime struct {
	driver       vm.Driver
	assets       *guestassets.Assets
	log          *slog.Logger
	diskSize     int64
	bootTimeout  time.Duration
	extraCmdline string
	emul         *emulators
	native       platform.Platform
}

// Option tunes a Runtime.
type Option func(*Runtime)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Runtime) { r.log = l } }

// WithWritableDiskSize sets the size of new writable disks.
func WithWritableDiskSize(n int64) Option { return func(r *Runtime) { r.diskSize = n } }

// WithBootTimeout bounds a boot up to the agent's handshake.
func WithBootTimeout(d time.Duration) Option { return func(r *Runtime) { r.bootTimeout = d } }

// WithEmulation sets where emulator disks are kept and what the host
// can emulate (default: no emulation; every foreign image is refused).
func WithEmulation(dir string, caps emulation.Capabilities) Option {
	return func(r *Runtime) { r.emul = &emulators{dir: dir, caps: caps} }
}

// WithNativePlatform sets the platform the guests run natively, the guest
// kernel's (default: the host's); images of any other platform are
// emulated. It differs from the host's only when the driver boots guests
// of another architecture (tests of the Mac's arm64 guest on x86-64).
func WithNativePlatform(p platform.Platform) Option { return func(r *Runtime) { r.native = p } }

// New returns a Runtime over driver, booting assets.
func New(driver vm.Driver, assets *guestassets.Assets, opts ...Option) *Runtime {
	r := &Runtime{driver: driver, assets: assets, log: slog.Default(), diskSize: DefaultWritableDiskSize, bootTimeout: DefaultBootTimeout,
		emul: &emulators{caps: emulation.Capabilities{Driver: driver.Name()}}, native: platform.Host()}
	for _, o := range opts {
		o(r)
	}
	r.emul.native = r.native
	return r
}

// Driver is the VM driver the runtime boots with.
func (r *Runtime) Driver() vm.Driver { return r.driver }

// Start boots the container's VM and starts its main process.
func (r *Runtime) Start(ctx context.Context, req engine.RunRequest) (engine.Sandbox, error) {
	var emul *proto.EmulationSpec
	var shares []vm.Share
	var disks []vm.Disk
	var emulated *platform.Platform
	switch {
	case req.Image != nil:
		emulated = &req.Image.Platform
	case req.Emulate != nil:
		emulated = req.Emulate
	}
	if emulated != nil {
		plan, err := r.emul.plan(*emulated)
		if err != nil {
			return nil, err
		}
		if plan.Kind != emulation.None {
			dev, spec, err := r.emul.attach(plan, req.Process.Args)
			if err != nil {
				return nil, fmt.Errorf("preparing the emulator: %w", err)
			}
			if dev.Share != nil {
				shares = append(shares, *dev.Share)
			}
			if dev.Disk != nil {
				disks = append(disks, *dev.Disk)
			}
			emul = spec
		}
	}
	gm, err := mounts(req.Mounts)
	if err != nil {
		return nil, err
	}
	shares = append(shares, gm.shares...)
	if err := os.MkdirAll(req.StateDir, 0o700); err != nil {
		return nil, err
	}
	if err := ensureWritableDisk(req.WritableDisk, r.diskSize); err != nil {
		return nil, fmt.Errorf("writable disk: %w", err)
	}
	spec := r.vmSpec(req, req.MemoryMiB, req.CPUs, shares, nics(req.Network))
	spec.Disks = append(spec.Disks, disks...)
	bootCtx, cancel := context.WithTimeout(ctx, r.bootTimeout)
	defer cancel()
	machine, err := r.driver.Start(bootCtx, spec)
	if err != nil {
		return nil, err
	}
	sb, err := r.startContainer(bootCtx, machine, req, emul, gm)
	if err != nil {
		machine.Kill()
		var pe processError
		if errors.As(err, &pe) {
			return nil, pe.classified()
		}
		if reason := consoleReason(req.ConsoleLog); reason != "" {
			err = fmt.Errorf("%w (VM log: %s)", err, reason)
		}
		return nil, err
	}
	return sb, nil
}

func (r *Runtime) startContainer(ctx context.Context, machine vm.Machine, req engine.RunRequest, emul *proto.EmulationSpec, gm guestMounts) (*sandbox, error) {
	ctx, cancel := watchBoot(ctx, machine)
	defer cancel(nil)
	t0 := time.Now()
	client, err := dialAgent(ctx, machine)
	if err != nil {
		return nil, err
	}
	r.log.Debug("guest agent connected", "id", req.ContainerID, "took", time.Since(t0).Round(time.Millisecond))
	p := req.Process
	cspec := proto.ContainerSpec{
		RootDevice:     "serial:" + rootDiskSerial,
		WritableDevice: "serial:" + writableDiskSerial,
		Hostname:       req.Hostname,
		Domainname:     req.Domainname,
		Process:        processSpec(p, req.Stdio.Stdin != nil),
		Emulation:      emul,
		Network:        networkSpec(req.Network),
		Mounts:         gm.specs,
		Sockets:        gm.sockets,
		Identity:       newIdentity(),
		Ephemeral:      req.Ephemeral,
	}
	if len(gm.sockets) > 0 {
		go client.ServeForwarded(gm.dialSocket)
	}
	proc, err := client.StartContainer(ctx, cspec, processIO(req.Stdio))
	if err != nil {
		client.Close()
		if ctx.Err() == nil && !errors.Is(err, proto.ErrClosed) {
			return nil, processError{err}
		}
		return nil, bootError(ctx, err)
	}
	r.log.Debug("container process started", "id", req.ContainerID, "took", time.Since(t0).Round(time.Millisecond))
	return &sandbox{machine: machine, client: client, process: process{proc}}, nil
}

// watchBoot returns ctx, ended at once when the VM dies while booting.
func watchBoot(ctx context.Context, machine vm.Machine) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-machine.Done():
			cancel(errors.New("the VM stopped while booting"))
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// dialAgent connects to the booted guest's agent and runs the handshake.
func dialAgent(ctx context.Context, machine vm.Machine) (*proto.Client, error) {
	for attempt := 1; ; attempt++ {
		conn, err := machine.DialAgent(ctx)
		if err != nil {
			return nil, bootError(ctx, fmt.Errorf("connect to the guest agent: %w", err))
		}
		client, err := proto.Dial(ctx, conn)
		if err == nil {
			return client, nil
		}
		conn.Close()
		// A handshake cut short (the guest's side of the port was closed
		// while the first bytes went by) is tried again on a new
		// connection, which the guest serves as a new session.
		if attempt == handshakeAttempts || ctx.Err() != nil || !errors.Is(err, proto.ErrClosed) {
			return nil, bootError(ctx, err)
		}
		select {
		case <-machine.Done():
			return nil, bootError(ctx, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// handshakeAttempts bounds the connections dialAgent tries.
const handshakeAttempts = 3

func bootError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %v", err, cause)
	}
	return err
}

func processSpec(p engine.ProcessSpec, openStdin bool) proto.ProcessSpec {
	return proto.ProcessSpec{
		Args:       p.Args,
		Env:        p.Env,
		WorkingDir: p.WorkingDir,
		User:       p.User,
		Groups:     p.Groups,
		Tty:        p.Tty,
		OpenStdin:  openStdin,
		Height:     uint16(p.ConsoleSize[0]),
		Width:      uint16(p.ConsoleSize[1]),
	}
}

func processIO(s engine.Stdio) proto.ProcessIO {
	return proto.ProcessIO{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr}
}

// vmSpec is the VM of a container: the guest assets, its root and writable
// disks (found by serial in the guest), its shares and NICs. An emulated
// container's emulator disk comes after the two.
func (r *Runtime) vmSpec(req engine.RunRequest, memoryMiB, cpus int, shares []vm.Share, nics []vm.NIC) vm.Spec {
	return vm.Spec{
		ID:         req.ContainerID,
		StateDir:   req.StateDir,
		Kernel:     r.assets.Kernel,
		Initramfs:  r.assets.Initramfs,
		Cmdline:    r.extraCmdline,
		MemoryMiB:  memoryMiB,
		CPUs:       cpus,
		ConsoleLog: req.ConsoleLog,
		Shares:     shares,
		NICs:       nics,
		Disks: []vm.Disk{
			{Path: req.RootDisk, ReadOnly: true, Serial: rootDiskSerial},
			{Path: req.WritableDisk, Serial: writableDiskSerial},
		},
	}
}

// ensureWritableDisk creates the container's writable disk when missing:
// an empty journaled ext4 written from rwlayer's template and extended
// sparsely to size; the guest grows the filesystem to the device at mount.
// No host mkfs and no root are needed.
func ensureWritableDisk(path string, size int64) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return rwlayer.Create(path, size)
}

// consoleReason picks the lines of a VM log that say why a boot failed.
func consoleReason(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var picked []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "pier-init:") || strings.Contains(l, "Kernel panic") {
			picked = append(picked, l)
		}
	}
	if len(picked) == 0 && len(lines) > 0 {
		picked = lines[max(0, len(lines)-3):]
	}
	if len(picked) > 5 {
		picked = picked[len(picked)-5:]
	}
	return strings.Join(picked, "; ")
}

// sandbox is a booted container VM.
type sandbox struct {
	process
	machine vm.Machine
	client  *proto.Client
	// killed is set when the engine destroys the VM (Kill): the end that
	// follows is no failure.
	killed atomic.Bool
	// detached is set when the daemon leaves the VM running (Detach).
	detached atomic.Bool
}

func (s *sandbox) Exec(ctx context.Context, req engine.ExecRequest) (engine.Process, error) {
	p, err := s.client.Exec(ctx, processSpec(req.Process, req.Stdio.Stdin != nil), processIO(req.Stdio))
	if err != nil {
		return nil, err
	}
	return process{p}, nil
}

func (s *sandbox) HostPid() int { return s.machine.Pid() }

func (s *sandbox) Kill() error {
	s.killed.Store(true)
	s.client.Close()
	return s.machine.Kill()
}

func (s *sandbox) Done() <-chan struct{} { return s.machine.Done() }

// process adapts a guest process to engine.Process.
type process struct{ p *proto.Process }

func (p process) Pid() int { return p.p.Pid() }

func (p process) Wait(ctx context.Context) (engine.ExitStatus, error) {
	st, err := p.p.Wait(ctx)
	if err != nil {
		return engine.ExitStatus{}, err
	}
	return engine.ExitStatus{Code: st.Code, OOMKilled: st.OOMKilled, ExitedAt: time.Now()}, nil
}

func (p process) Signal(_ context.Context, sig syscall.Signal) error { return p.p.Signal(sig) }

func (p process) Resize(_ context.Context, height, width uint) error {
	return p.p.Resize(uint16(height), uint16(width))
}

func (p process) CloseStdin() error { return p.p.CloseStdin() }

// CheckPlatform tells whether an image of platform p can run here, and if
// not, why (an invalid-parameter error saying what to install).
func (r *Runtime) CheckPlatform(p platform.Platform) error {
	_, err := r.emul.plan(p)
	return err
}

// Emulates lists the foreign platforms this runtime can run.
func (r *Runtime) Emulates() []string {
	var out []string
	for _, p := range platform.Supported {
		if plan, err := r.emul.plan(p); err == nil && plan.Kind != emulation.None {
			out = append(out, p.String()+"="+string(plan.Kind))
		}
	}
	return out
}

// processError is the guest's refusal to set up or start the process: its
// message says why, so the VM log is not appended.
type processError struct{ err error }

func (e processError) Error() string { return e.err.Error() }
func (e processError) Unwrap() error { return e.err }

// classified marks a missing or unrunnable command and an unknown user as
// invalid input, as dockerd does, from the guest's error code; a command
// error carries Docker's exit code for it.
func (e processError) classified() error {
	switch proto.ErrorCodeOf(e.err) {
	case proto.CodeCommandNotFound:
		return errdefs.InvalidParameter(&engine.CommandError{ExitCode: 127, Err: e.err})
	case proto.CodeCommandNotRunnable:
		return errdefs.InvalidParameter(&engine.CommandError{ExitCode: 126, Err: e.err})
	case proto.CodeInvalid:
		return errdefs.InvalidParameter(e.err)
	}
	return e.err
}

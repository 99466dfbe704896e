// Package qemu is the Linux VM driver: each VM is a qemu-system process
// (microvm on x86-64, virt on arm64) in its own session. Shared
// directories are served by QEMU's own 9p server when the guest kernel has
// 9p (WithNinePShares), else by one virtiofsd process per share. Guests
// run under KVM when a real probe boot shows it works, else under TCG.
//
// A VM's StateDir holds its sockets (agent.sock, qmp.sock, fs<N>.sock), pid files
// (qemu.pid, virtiofsd<N>.pid) and logs (qemu.log, virtiofsd<N>.log).
package qemu

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var _ vm.Driver = (*Driver)(nil)

// Driver boots QEMU VMs.
type Driver struct {
	accelMode      string
	accel          string
	arch           string
	binary         string
	virtiofsd      string
	log            *slog.Logger
	probeKernel    string
	probeInitramfs string
	probeTimeout   time.Duration
	dataRoot       string
	tscKHz         int
	rosettaStandIn string // served for Rosetta shares; see WithRosettaStandIn
	ninePShares    bool   // see WithNinePShares
	accelReason    string // why accel was chosen; see AccelReason

	versionOnce sync.Once // see version
	versionStr  string
	versionErr  error
}

// New returns a Driver. With acceleration "auto" (the default) it settles
// KVM or TCG here, booting a probe VM unless a cached verdict applies.
func New(opts ...Option) (*Driver, error) {
	d := &Driver{
		accelMode:    AccelAuto,
		arch:         runtime.GOARCH,
		virtiofsd:    DefaultVirtiofsd,
		log:          slog.Default(),
		probeTimeout: 10 * time.Second,
		tscKHz:       tscKHz(),
	}
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	if err := d.settleArch(); err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(d.binary)
	if err != nil {
		return nil, errdefs.Unavailable(fmt.Errorf("qemu: %s not found (install %s): %w", d.binary, SystemPackage(d.arch), err))
	}
	d.binary = bin
	if d.accel, err = d.chooseAccel(); err != nil {
		return nil, err
	}
	d.log.Info("qemu driver ready", "binary", d.binary, "arch", d.arch, "accel", d.accel, "mode", d.accelMode)
	return d, nil
}

// Name is "qemu".
func (d *Driver) Name() string { return "qemu" }

// Accel is "kvm" or "tcg".
func (d *Driver) Accel() string { return d.accel }

// Start boots spec's VM and returns once QEMU runs.
func (d *Driver) Start(ctx context.Context, spec vm.Spec) (vm.Machine, error) {
	return d.start(ctx, spec, d.accel)
}

func (d *Driver) start(ctx context.Context, spec vm.Spec, accel string) (*machine, error) {
	spec, err := normalize(d.serveRosetta(spec))
	if err != nil {
		return nil, err
	}
	m, err := d.launch(ctx, spec, d.machineConfig(accel), nil)
	if err != nil {
		return nil, err
	}
	d.log.Debug("vm started", "id", spec.ID, "pid", m.Pid(), "accel", accel)
	return m, nil
}

// machineConfig is the command line's settings for a VM under accel.
func (d *Driver) machineConfig(accel string) machineConfig {
	return machineConfig{arch: d.arch, accel: accel, tscKHz: d.tscKHz, qmp: true, nineP: d.ninePShares}
}

// launch starts spec's (normalised) virtiofsd helpers (none with 9p) and QEMU with mc and
// extraArgs; extra files are QEMU's fds after the NICs'. It returns the
// supervised machine, or an error with nothing left running.
func (d *Driver) launch(ctx context.Context, spec vm.Spec, mc machineConfig, extraArgs []string, extra ...*os.File) (*machine, error) {
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(spec.StateDir, agentSocketName))

	m := &machine{id: spec.ID, stateDir: spec.StateDir, killed: make(chan struct{}), done: make(chan struct{})}
	abort := func(err error) (*machine, error) {
		for _, f := range m.fsds {
			f.kill()
			<-f.exited
		}
		m.removeRuntimeFiles()
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	if !mc.nineP {
		for i, share := range spec.Shares {
			f, err := d.startVirtiofsd(ctx, spec.StateDir, i, share)
			if err != nil {
				return abort(err)
			}
			m.fsds = append(m.fsds, f)
		}
	}
	nics, err := attachNICs(spec.NICs)
	if err != nil {
		return abort(err)
	}
	args := append(qemuArgs(spec, mc), extraArgs...)
	m.qemu, err = startHelper(d.binary, args, spec.StateDir,
		filepath.Join(spec.StateDir, qemuLogName), filepath.Join(spec.StateDir, qemuPidName), append(nics, extra...)...)
	closeAll(nics) // QEMU holds its own copies
	if err != nil {
		return abort(err)
	}
	go m.supervise()
	return m, nil
}

// normalize is vm.Normalize plus what QEMU cannot do: Rosetta shares.
func normalize(spec vm.Spec) (vm.Spec, error) {
	spec, err := vm.Normalize(spec)
	if err != nil {
		return spec, err
	}
	for _, s := range spec.Shares {
		if s.Rosetta {
			return spec, errdefs.NotImplemented(fmt.Errorf("vm %s: share %q: Rosetta exists only on Apple silicon", spec.ID, s.Tag))
		}
	}
	return spec, nil
}

package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/pier-vm/pier/engine/vm"
)

var _ vm.Templater = (*Driver)(nil)

// Files of a template directory: the guest's RAM (a sparse file of the
// guest's size, mapped by every clone) and the device state.
const (
	TemplateRAMName   = "ram"
	TemplateStateName = "state"
)

// sharePlaceholderName is the empty directory of a template that its
// share slots serve, and a clone's unused ones.
const sharePlaceholderName = "share-placeholder"

// shareSlots is how many shares a template carries with 9p: a container
// with more boots cold.
const shareSlots = 4

// ShareSlots is the number of share slots of a template of a VM with
// shares: 4 with 9p, none with virtio-fs.
func (d *Driver) ShareSlots() int {
	if d.ninePShares {
		return shareSlots
	}
	return 0
}

// templateFormat changes when what a template directory holds changes.
const templateFormat = "qemu-template-1"

// TemplateKey covers QEMU's version, the acceleration, the command line a
// template of shape gets (machine, devices, memory, kernel arguments) and
// the kernel's and initramfs's content.
func (d *Driver) TemplateKey(shape vm.Shape) (string, error) {
	version, err := d.version()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", templateFormat, d.binary, version)
	for _, a := range d.templateArgs(shape) {
		fmt.Fprintf(h, "%q\n", a)
	}
	for _, f := range []string{shape.Kernel, shape.Initramfs} {
		sum, err := vm.FileDigest(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n", sum)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// version is `qemu-system-… --version`'s first line, asked once.
func (d *Driver) version() (string, error) {
	d.versionOnce.Do(func() {
		out, err := exec.Command(d.binary, "--version").Output()
		if err != nil {
			d.versionErr = fmt.Errorf("qemu --version: %w", err)
			return
		}
		d.versionStr, _, _ = strings.Cut(string(out), "\n")
	})
	return d.versionStr, d.versionErr
}

// templateSpec is the Spec a template of shape boots: placeholder disks
// and NICs in its directory (relative paths: QEMU runs there).
func templateSpec(shape vm.Shape) vm.Spec {
	spec := vm.Spec{
		ID: "template", StateDir: ".", Kernel: shape.Kernel, Initramfs: shape.Initramfs,
		Cmdline: shape.Cmdline, MemoryMiB: shape.MemoryMiB, CPUs: shape.CPUs, ConsoleLog: "console.log",
	}
	for i, s := range shape.Disks {
		spec.Disks = append(spec.Disks, vm.Disk{Path: fmt.Sprintf("disk%d.img", i), ReadOnly: s.ReadOnly, Serial: s.Serial})
	}
	for i := range shape.NICs {
		spec.NICs = append(spec.NICs, vm.NIC{MAC: vm.PlaceholderMAC(i)})
	}
	for k := range shape.Shares {
		spec.Shares = append(spec.Shares, vm.Share{Tag: vm.ShareSlotTag(k), HostPath: sharePlaceholderName, ReadOnly: true})
	}
	return spec
}

func (d *Driver) templateArgs(shape vm.Shape) []string {
	mc := d.machineConfig(d.accel)
	mc.ramFile, mc.ramShared = TemplateRAMName, true
	return qemuArgs(templateSpec(shape), mc)
}

// SaveTemplate boots a VM of shape in dir with its RAM in dir/ram (shared),
// waits for the guest to open the agent port (pier-init's ready point:
// modules loaded, nothing container-specific done yet), stops it and
// saves its device state to dir/state without the RAM (x-ignore-shared).
// Placeholders are removed afterwards; QEMU is gone when it returns.
func (d *Driver) SaveTemplate(ctx context.Context, shape vm.Shape, dir string) (err error) {
	if shape.Shares > 0 {
		if !d.ninePShares {
			return fmt.Errorf("a template with shares needs 9p")
		}
		if err := os.Mkdir(filepath.Join(dir, sharePlaceholderName), 0o755); err != nil {
			return err
		}
	}
	for i, s := range shape.Disks {
		if err := vm.CreatePlaceholderDisk(filepath.Join(dir, fmt.Sprintf("disk%d.img", i)), s.Size); err != nil {
			return err
		}
	}
	var ours, theirs []*os.File
	defer func() { closeAll(ours); closeAll(theirs) }()
	for range shape.NICs {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
		ours = append(ours, os.NewFile(uintptr(fds[0]), "nic"))
		theirs = append(theirs, os.NewFile(uintptr(fds[1]), "nic"))
	}
	h, err := startHelper(d.binary, d.templateArgs(shape), dir, filepath.Join(dir, qemuLogName), filepath.Join(dir, qemuPidName), theirs...)
	if err != nil {
		return err
	}
	defer func() {
		h.kill()
		<-h.exited
		for i := range shape.Disks {
			os.Remove(filepath.Join(dir, fmt.Sprintf("disk%d.img", i)))
		}
		for _, n := range []string{qemuPidName, qmpSocketName, agentSocketName} {
			os.Remove(filepath.Join(dir, n))
		}
		if err != nil {
			if tail := h.logTail(); tail != "" {
				err = fmt.Errorf("%w (qemu: %s)", err, tail)
			}
		}
	}()
	mon, err := dialMonitor(ctx, dir, h.exited)
	if err != nil {
		return err
	}
	defer mon.close()
	err = mon.waitEvent(ctx, h.exited, func(e qmp.Event) bool {
		return e.Event == "VSERPORT_CHANGE" && e.Data["id"] == agentPortID && e.Data["open"] == true
	})
	if err != nil {
		return fmt.Errorf("waiting for the guest to be ready: %w", err)
	}
	if err := mon.run("stop", nil, nil); err != nil {
		return err
	}
	if err := mon.setIgnoreShared(); err != nil {
		return err
	}
	if err := mon.run("migrate", map[string]any{"uri": "exec:cat > " + TemplateStateName + ".part"}, nil); err != nil {
		return err
	}
	if err := waitMigration(ctx, mon, h.exited); err != nil {
		return err
	}
	_ = mon.run("quit", nil, nil)
	select {
	case <-h.exited:
	case <-time.After(10 * time.Second):
	}
	for _, n := range []string{TemplateRAMName, TemplateStateName + ".part"} {
		if err := syncFile(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return os.Rename(filepath.Join(dir, TemplateStateName+".part"), filepath.Join(dir, TemplateStateName))
}

// waitMigration polls query-migrate until the outgoing migration ends.
func waitMigration(ctx context.Context, mon *monitor, exited <-chan struct{}) error {
	var last string
	return mon.poll(ctx, exited, func() (bool, error) {
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := mon.run("query-migrate", nil, &st); err != nil {
			return false, err
		}
		last = st.Status
		switch st.Status {
		case "completed":
			return true, nil
		case "failed", "cancelled":
			return false, fmt.Errorf("saving the template: %s %s", st.Status, st.ErrorDesc)
		}
		return false, nil
	}, func() string { return "saving the template: migration " + last })
}

// StartClone starts spec's VM (disks, NICs and 9p shares in the
// template's slots) from the template in dir: the template's command line
// with the clone's own disks, NICs, shares, agent socket and console
// (share slots it does not use serve the template's empty placeholder),
// guest RAM mapped privately from dir/ram, and the device state read from
// dir/state (inherited as the fd after the NICs). It returns once the
// restored guest runs.
func (d *Driver) StartClone(ctx context.Context, spec vm.Spec, dir string) (vm.Machine, error) {
	spec, err := normalize(spec)
	if err != nil {
		return nil, err
	}
	if n := len(spec.Shares); n > 0 {
		if n > d.ShareSlots() {
			return nil, fmt.Errorf("vm %s: %d shares do not fit a template's %d share slots", spec.ID, n, d.ShareSlots())
		}
		for k := n; k < d.ShareSlots(); k++ {
			spec.Shares = append(spec.Shares, vm.Share{Tag: vm.ShareSlotTag(k), HostPath: filepath.Join(dir, sharePlaceholderName), ReadOnly: true})
		}
	}
	state, err := os.Open(filepath.Join(dir, TemplateStateName))
	if err != nil {
		return nil, fmt.Errorf("vm %s: template: %w", spec.ID, err)
	}
	defer state.Close()
	mc := d.machineConfig(d.accel)
	mc.ramFile = filepath.Join(dir, TemplateRAMName)
	m, err := d.launch(ctx, spec, mc, []string{"-incoming", "defer"}, state)
	if err != nil {
		return nil, err
	}
	if err := restore(ctx, m, firstNICFd+len(spec.NICs)); err != nil {
		m.Kill()
		if tail := m.qemu.logTail(); tail != "" {
			err = fmt.Errorf("%w (qemu: %s)", err, tail)
		}
		return nil, fmt.Errorf("vm %s: restoring the template: %w", spec.ID, err)
	}
	d.log.Debug("vm cloned", "id", spec.ID, "pid", m.Pid(), "template", dir)
	return m, nil
}

// restore feeds the state at stateFd to a QEMU started with -incoming
// defer and waits until the guest runs again.
func restore(ctx context.Context, m *machine, stateFd int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	mon, err := dialMonitor(ctx, m.stateDir, m.qemu.exited)
	if err != nil {
		return err
	}
	defer mon.close()
	if err := mon.setIgnoreShared(); err != nil {
		return err
	}
	if err := mon.run("migrate-incoming", map[string]any{"uri": fmt.Sprintf("fd:%d", stateFd)}, nil); err != nil {
		return err
	}
	// The template was saved stopped, so the restored VM stays paused
	// until told to go on.
	if err := mon.waitStatus(ctx, m.qemu.exited, "paused"); err != nil {
		return err
	}
	if err := mon.run("cont", nil, nil); err != nil {
		return err
	}
	return mon.waitStatus(ctx, m.qemu.exited, "running")
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

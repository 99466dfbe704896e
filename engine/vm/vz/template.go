package vz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/version"
)

// VM templates under vz (macOS 14 and later): a template VM of a shape is
// booted by a shim in save mode, which waits for pier-init's ready point
// (its vsock listener takes a connection), pauses the VM and saves it with
// SaveMachineStateToPath, together with the VM's GenericMachineIdentifier
// (a saved state restores only into a VM with the same identifier). A
// clone is a shim that builds the clone's own configuration (its disks,
// NICs, console) with the template's identifier, restores the state with
// RestoreMachineStateFromURL and resumes. Unlike QEMU's templates, the
// saved RAM is read into each clone's private memory: clones share no
// pages, so a template saves boot time, not memory.

// Files of a vz template directory.
const (
	TemplateStateName     = "state.vzvmsave"
	TemplateMachineIDName = "machine-id"
)

// templateFormat changes when what a template directory holds, or how the
// shim builds a VM's configuration, changes.
const templateFormat = "vz-template-1"

// shimTemplate is spec.json's template part.
type shimTemplate struct {
	// Save makes the shim boot the VM, wait for the guest to be ready,
	// save it to State and MachineID, stop it and exit (0 on success).
	// Without Save, the shim starts the VM from State and MachineID.
	Save      bool   `json:"save,omitempty"`
	State     string `json:"state"`
	MachineID string `json:"machineID"`
}

// templateSaver is a VM the shim can save as a template.
type templateSaver interface {
	// SaveTemplate pauses the VM and writes its machine identifier to
	// t.MachineID and its state to t.State.
	SaveTemplate(t shimTemplate) error
}

// templateKey names the template of shape on a host whose macOS is
// osVersion (product version and build: a saved state is Apple's format
// of that release): it covers pierd's own build (which makes the
// configuration), the shape and the kernel's and initramfs's content.
func templateKey(shape vm.Shape, osVersion string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s %s\n", templateFormat, osVersion, version.Version, version.GitCommit)
	fmt.Fprintf(h, "%q\n%d %d %d\n", kernelCmdline(vm.Spec{Cmdline: shape.Cmdline}), shape.MemoryMiB, shape.CPUs, shape.NICs)
	for _, d := range shape.Disks {
		fmt.Fprintf(h, "disk %v %q %d\n", d.ReadOnly, d.Serial, d.Size)
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

// templateFiles are the template's files in dir.
func templateFiles(dir string, save bool) *shimTemplate {
	return &shimTemplate{Save: save, State: filepath.Join(dir, TemplateStateName), MachineID: filepath.Join(dir, TemplateMachineIDName)}
}

// saveTemplate makes the template of shape in dir: a shim in save mode
// boots it with placeholder disks (sparse files of the slots' sizes) and
// NICs (datagram socket pairs whose far ends this function holds), and
// exits once the state is saved. The placeholders and the shim's files
// are removed; ctx's end kills the shim.
func (l *launcher) saveTemplate(ctx context.Context, shape vm.Shape, dir string) (err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	spec := vm.Spec{ID: "template", StateDir: dir, Kernel: shape.Kernel, Initramfs: shape.Initramfs,
		Cmdline: shape.Cmdline, MemoryMiB: shape.MemoryMiB, CPUs: shape.CPUs, ConsoleLog: filepath.Join(dir, "console.log")}
	var placeholders []string
	var farEnds []*os.File
	defer func() {
		closeFiles(farEnds)
		for _, p := range placeholders {
			os.Remove(p)
		}
		removeRuntimeFiles(dir)
	}()
	for i, s := range shape.Disks {
		p := filepath.Join(dir, fmt.Sprintf("disk%d.img", i))
		if err := vm.CreatePlaceholderDisk(p, s.Size); err != nil {
			return err
		}
		placeholders = append(placeholders, p)
		spec.Disks = append(spec.Disks, vm.Disk{Path: p, ReadOnly: s.ReadOnly, Serial: s.Serial})
	}
	for i := range shape.NICs {
		spec.NICs = append(spec.NICs, vm.NIC{MAC: vm.PlaceholderMAC(i), Attach: func(bool) (*os.File, error) {
			ours, far, err := datagramPair()
			if err != nil {
				return nil, err
			}
			farEnds = append(farEnds, far)
			return ours, nil
		}})
	}
	spec, err = normalize(spec)
	if err != nil {
		return err
	}
	nicFiles, nics, err := attachNICs(spec)
	if err != nil {
		return err
	}
	tmpl := templateFiles(dir, true)
	if err := writeConfig(dir, shimConfig{Spec: spec, NICs: nics, Template: tmpl}); err != nil {
		closeFiles(nicFiles)
		return err
	}
	p, err := l.spawn(dir, nicFiles)
	closeFiles(nicFiles)
	if err != nil {
		return err
	}
	select {
	case <-p.reaped:
	case <-ctx.Done():
		p.kill()
		return fmt.Errorf("saving the template: %w", ctx.Err())
	}
	if p.waitErr != nil {
		return fmt.Errorf("saving the template: %w", p.exitError())
	}
	for _, f := range []string{tmpl.State, tmpl.MachineID} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			return fmt.Errorf("saving the template: the shim left no %s", filepath.Base(f))
		}
	}
	return nil
}

// startClone starts spec's VM (no shares) from the template in dir.
func (l *launcher) startClone(ctx context.Context, spec vm.Spec, dir string) (*machine, error) {
	if len(spec.Shares) > 0 {
		return nil, fmt.Errorf("vm %s: a clone cannot have shares", spec.ID)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tmpl := templateFiles(dir, false)
	for _, f := range []string{tmpl.State, tmpl.MachineID} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("vm %s: template: %w", spec.ID, err)
		}
	}
	return l.startShim(ctx, spec, tmpl)
}

// saveAndStop is the shim's save mode: it waits for pier-init's ready
// point (a vsock connection to its agent succeeds; it is closed before
// the VM is paused), saves the VM and stops it. The template VM never
// runs on.
func saveAndStop(ctx context.Context, v controller, t shimTemplate, log *slog.Logger) error {
	defer func() {
		if err := killVM(v, defaultStopTimes.kill); err != nil {
			log.Warn("stopping the template vm", "err", err)
		}
	}()
	s, ok := v.(templateSaver)
	if !ok {
		return errors.New("this vm cannot be saved as a template")
	}
	rctx, cancel := context.WithTimeout(ctx, agentConnectTimeout)
	conn, err := connectAgent(rctx, v)
	cancel()
	if err != nil {
		return fmt.Errorf("waiting for the guest to be ready: %w", err)
	}
	conn.Close()
	if err := s.SaveTemplate(t); err != nil {
		os.Remove(t.State)
		os.Remove(t.MachineID)
		return fmt.Errorf("saving the vm: %w", err)
	}
	log.Info("template saved", "state", t.State)
	return nil
}

// datagramPair is a NIC placeholder: a unix datagram socket pair. Nothing
// is sent to it; the guest sends at most a few small frames before the
// save.
func datagramPair() (ours, far *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		return nil, nil, err
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return os.NewFile(uintptr(fds[0]), "nic"), os.NewFile(uintptr(fds[1]), "nic-placeholder"), nil
}

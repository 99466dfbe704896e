package qemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// probeOK is the console line the guest init prints when booted with
// pier.probe=1.
const probeOK = "pier: probe ok"

// verdictFile caches the probe's outcome in the data root.
const verdictFile = "qemu-accel.json"

// verdict is a cached probe outcome; it holds while QEMU and the kernel are
// the same.
type verdict struct {
	QEMUVersion string    `json:"qemu_version"`
	KernelHash  string    `json:"kernel_sha256"`
	Accel       string    `json:"accel"`
	ProbedAt    time.Time `json:"probed_at"`
	Detail      string    `json:"detail,omitempty"`
}

// chooseAccel settles the acceleration for this Driver, and records why in
// d.accelReason.
func (d *Driver) chooseAccel() (string, error) {
	if d.foreignArch() {
		if d.accelMode == AccelKVM {
			return "", errdefs.InvalidParameterf("qemu: KVM cannot run %s guests on a %s host", d.arch, runtime.GOARCH)
		}
		d.accelReason = fmt.Sprintf("%s guests on an %s host run under TCG only", d.arch, runtime.GOARCH)
		return AccelTCG, nil
	}
	kvmErr := kvmUsable()
	switch d.accelMode {
	case AccelTCG:
		d.accelReason = "acceleration tcg asked for"
		return AccelTCG, nil
	case AccelKVM:
		if kvmErr != nil {
			return "", errdefs.Unavailable(fmt.Errorf("qemu: acceleration kvm asked for, but %w", kvmErr))
		}
		d.accelReason = "acceleration kvm asked for"
		return AccelKVM, nil
	}
	if kvmErr != nil {
		d.log.Info("qemu: KVM not available, using TCG", "reason", kvmErr)
		d.accelReason = kvmErr.Error()
		return AccelTCG, nil
	}
	if d.probeKernel == "" {
		return "", errdefs.InvalidParameterf("qemu: acceleration auto needs a probe kernel and initramfs (WithProbe)")
	}
	key, err := d.verdictKey()
	if err != nil {
		return "", err
	}
	if v, ok := d.cachedVerdict(key); ok {
		d.log.Info("qemu: acceleration from cached probe", "accel", v.Accel, "probed_at", v.ProbedAt)
		d.accelReason = probeReason(v, true)
		return v.Accel, nil
	}
	start := time.Now()
	accel, detail := AccelKVM, "booted"
	if err := d.probeKVM(); err != nil {
		accel, detail = AccelTCG, err.Error()
	}
	d.log.Info("qemu: probed KVM with a real boot", "accel", accel, "detail", detail, "took", time.Since(start).Round(time.Millisecond))
	key.Accel, key.Detail, key.ProbedAt = accel, detail, time.Now().UTC()
	d.saveVerdict(key)
	d.accelReason = probeReason(key, false)
	return accel, nil
}

// probeReason says what a probe found.
func probeReason(v verdict, cached bool) string {
	when := "probed just now"
	if cached {
		when = "probed " + v.ProbedAt.Local().Format(time.RFC3339) + ", cached"
	}
	if v.Accel == AccelKVM {
		return "KVM works: a probe boot under it succeeded (" + when + ")"
	}
	return "/dev/kvm opens but a probe boot under KVM failed: " + v.Detail + " (" + when + ")"
}

// AccelReason says why Accel is what it is: the asked-for mode, why KVM is
// unusable, or what the (possibly cached) probe boot found.
func (d *Driver) AccelReason() string { return d.accelReason }

// kvmUsable reports why /dev/kvm cannot be used, or nil.
func kvmUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("/dev/kvm: %w", err)
	}
	return f.Close()
}

// probeKVM boots the probe kernel under KVM and waits for probeOK on the
// console. KVM can open and still be unusable (nested setups that abort
// on -cpu host or crawl), so only a real boot tells.
func (d *Driver) probeKVM() error {
	if d.dataRoot != "" {
		if err := os.MkdirAll(d.dataRoot, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(d.dataRoot, "kvm-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	console := filepath.Join(dir, "console.log")
	ctx, cancel := context.WithTimeout(context.Background(), d.probeTimeout)
	defer cancel()
	m, err := d.start(ctx, vm.Spec{
		ID: "kvm-probe", StateDir: dir, Kernel: d.probeKernel, Initramfs: d.probeInitramfs,
		Cmdline: "pier.probe=1", MemoryMiB: 256, CPUs: 1, ConsoleLog: console,
	}, AccelKVM)
	if err != nil {
		return err
	}
	defer m.Kill()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if consoleHas(console, probeOK) {
			return nil
		}
		select {
		case <-m.Done():
			if consoleHas(console, probeOK) {
				return nil
			}
			if err := m.Err(); err != nil {
				return err
			}
			return errors.New("guest ended without reporting")
		case <-ctx.Done():
			return fmt.Errorf("no %q within %v", probeOK, d.probeTimeout)
		case <-tick.C:
		}
	}
}

func consoleHas(path, line string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte(line))
}

// verdictKey identifies what the probe's outcome depends on.
func (d *Driver) verdictKey() (verdict, error) {
	out, err := exec.Command(d.binary, "--version").Output()
	if err != nil {
		return verdict{}, fmt.Errorf("qemu: %s --version: %w", d.binary, err)
	}
	version, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	f, err := os.Open(d.probeKernel)
	if err != nil {
		return verdict{}, errdefs.NotFound(fmt.Errorf("qemu: probe kernel: %w", err))
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return verdict{}, err
	}
	return verdict{QEMUVersion: version, KernelHash: hex.EncodeToString(h.Sum(nil))}, nil
}

func (d *Driver) cachedVerdict(key verdict) (verdict, bool) {
	if d.dataRoot == "" {
		return verdict{}, false
	}
	b, err := os.ReadFile(filepath.Join(d.dataRoot, verdictFile))
	if err != nil {
		return verdict{}, false
	}
	var v verdict
	if json.Unmarshal(b, &v) != nil || v.QEMUVersion != key.QEMUVersion || v.KernelHash != key.KernelHash {
		return verdict{}, false
	}
	if v.Accel != AccelKVM && v.Accel != AccelTCG {
		return verdict{}, false
	}
	return v, true
}

func (d *Driver) saveVerdict(v verdict) {
	if d.dataRoot == "" {
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err == nil {
		err = os.MkdirAll(d.dataRoot, 0o755)
	}
	if err == nil {
		err = writeFileAtomic(filepath.Join(d.dataRoot, verdictFile), append(b, '\n'))
	}
	if err != nil {
		d.log.Warn("qemu: cannot cache the KVM probe verdict", "err", err)
	}
}

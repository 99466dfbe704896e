package qemu

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

func TestQEMUArgsVirtTCG(t *testing.T) {
	spec := vm.Spec{ID: "a", StateDir: "/s", Kernel: "/k", Initramfs: "/i", MemoryMiB: 256, CPUs: 1, ConsoleLog: "/c",
		Shares: []vm.Share{{Tag: "pier-emul", HostPath: "/x", ReadOnly: true}}}
	args := qemuArgs(spec, machineConfig{arch: "arm64", accel: AccelTCG, tscKHz: 2300000})
	if got := argAfter(args, "-M"); !slices.Equal(got, []string{"virt,gic-version=max"}) {
		t.Errorf("-M %v", got)
	}
	if got := argAfter(args, "-cpu"); !slices.Equal(got, []string{"max,pauth-impdef=on"}) {
		t.Errorf("-cpu %v", got)
	}
	cmdline := argAfter(args, "-append")[0]
	if !strings.HasPrefix(cmdline, "console=ttyAMA0 ") {
		t.Errorf("cmdline %q: want the PL011 console first", cmdline)
	}
	for _, x86 := range []string{"tsc", "pci=off", "ttyS0"} {
		if strings.Contains(cmdline, x86) {
			t.Errorf("arm64 cmdline %q has the x86 argument %s", cmdline, x86)
		}
	}
	if !slices.Contains(argAfter(args, "-device"), "vhost-user-fs-device,chardev=fs0,tag=pier-emul") {
		t.Errorf("no vhost-user-fs device: %q", argAfter(args, "-device"))
	}
}

func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// TestForeignArchRunsUnderTCG: guests of another architecture settle on
// TCG without a probe (none is given here), and KVM is refused.
func TestForeignArchRunsUnderTCG(t *testing.T) {
	arch := otherArch()
	if _, err := exec.LookPath(SystemBinary(arch)); err != nil {
		t.Skipf("%s not installed (make deps installs %s)", SystemBinary(arch), SystemPackage(arch))
	}
	quiet := WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	d, err := New(WithArch(arch), WithAccel(AccelAuto), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if d.Accel() != AccelTCG || d.Arch() != arch || filepath.Base(d.binary) != SystemBinary(arch) {
		t.Errorf("accel %s, arch %s, binary %s", d.Accel(), d.Arch(), d.binary)
	}
	if !strings.Contains(d.AccelReason(), "TCG only") {
		t.Errorf("reason %q", d.AccelReason())
	}
	if _, err := New(WithArch(arch), WithAccel(AccelKVM), quiet); err == nil || !errdefs.IsInvalidParameter(err) {
		t.Errorf("kvm for %s guests: %v, want an invalid-parameter error", arch, err)
	}
}

func TestWithArchRefusesUnknown(t *testing.T) {
	if _, err := New(WithArch("riscv64")); err == nil || !errdefs.IsInvalidParameter(err) {
		t.Fatalf("riscv64: %v", err)
	}
}

func TestRosettaStandIn(t *testing.T) {
	empty := t.TempDir()
	if err := WithRosettaStandIn(empty)(&Driver{}); err == nil || !strings.Contains(err.Error(), "no program named rosetta") {
		t.Errorf("stand-in without rosetta: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rosetta"), []byte("#!"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Rosetta runs x86-64 binaries in arm64 guests only.
	if _, err := New(WithArch("amd64"), WithRosettaStandIn(dir)); err == nil || !strings.Contains(err.Error(), "arm64 guests") {
		t.Errorf("stand-in for amd64 guests: %v", err)
	}

	spec := vm.Spec{ID: "r", Shares: []vm.Share{
		{Tag: "pier-emul", Rosetta: true, ReadOnly: true},
		{Tag: "data", HostPath: "/data"},
	}}
	d := &Driver{}
	if err := WithRosettaStandIn(dir)(d); err != nil {
		t.Fatal(err)
	}
	got := d.serveRosetta(spec)
	want := []vm.Share{{Tag: "pier-emul", HostPath: dir, ReadOnly: true}, {Tag: "data", HostPath: "/data"}}
	if !slices.Equal(got.Shares, want) {
		t.Errorf("shares %+v, want %+v", got.Shares, want)
	}
	if !spec.Shares[0].Rosetta {
		t.Error("serveRosetta changed the caller's spec")
	}
	// Without a stand-in the share stays a Rosetta share, which normalize
	// refuses.
	if got := (&Driver{}).serveRosetta(spec); !got.Shares[0].Rosetta {
		t.Errorf("no stand-in, yet %+v", got.Shares[0])
	}
}

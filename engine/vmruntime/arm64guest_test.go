package vmruntime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
	"github.com/pier-vm/pier/internal/testimages"
)

// arm64GuestEnv turns TestArm64GuestRunsAMD64ImageAsUnderRosetta on; `make
// e2e-arm64-guest` sets it after building what the test needs.
const arm64GuestEnv = "PIER_E2E_ARM64_GUEST"

// Rosetta's binfmt_misc rule as Apple documents it for Linux guests (the
// x86-64 ELF header, ET_EXEC or ET_DYN), in the hex that
// /proc/sys/fs/binfmt_misc/<rule> shows. Written out here, not taken from
// guest/binfmt, so that the test checks the guest against Apple's rule.
const (
	rosettaMagic = "7f454c4602010100000000000000000002003e00"
	rosettaMask  = "fffffffffffefe00fffffffffffffffffeffffff"
)

// TestArm64GuestRunsAMD64ImageAsUnderRosetta is the Mac's situation on a
// Linux machine: an arm64 guest (Debian's arm64 kernel and pier-init for
// arm64, under qemu-system-aarch64, TCG on an x86-64 host) runs an amd64
// image. The runtime is set up as pierd sets it up over the vz driver
// with Rosetta installed (arm64 guests native; amd64 images under
// Rosetta), so it asks the driver for a Rosetta share and the guest for
// the Rosetta binfmt rule. The QEMU driver serves its Rosetta stand-in
// there, Debian's arm64 qemu-x86_64-static named rosetta, under the same
// tag, and the guest mounts and registers it with the same code as on a
// Mac. The container's uname -m says x86_64.
func TestArm64GuestRunsAMD64ImageAsUnderRosetta(t *testing.T) {
	if os.Getenv(arm64GuestEnv) == "" {
		t.Skipf("%s is not set: run `make e2e-arm64-guest` (it builds the arm64 guest assets, the Rosetta stand-in and the test images, then runs this test with %s=1)", arm64GuestEnv, arm64GuestEnv)
	}
	root := repoRoot(t)
	guestDir := filepath.Join(root, "bin", "guest", "arm64")
	standIn := filepath.Join(root, "bin", "rosetta-standin")
	work := t.TempDir()
	assets, err := guestassets.Prepare(guestDir, filepath.Join(work, "assets"))
	if err != nil {
		t.Fatalf("arm64 guest assets (make guest guest-assets GUEST_ARCH=arm64): %v", err)
	}
	drv, err := qemu.New(
		qemu.WithArch("arm64"),
		qemu.WithAccel(qemu.AccelAuto),
		qemu.WithProbe(assets.Kernel, assets.Initramfs),
		qemu.WithDataRoot(work),
		qemu.WithRosettaStandIn(standIn),
		qemu.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		t.Fatalf("QEMU driver for arm64 guests (make deps installs qemu-system-arm; make e2e-arm64-guest the stand-in): %v", err)
	}
	t.Logf("arm64 guests under %s: %s", drv.Accel(), drv.AccelReason())

	arm64, _ := platform.Parse("linux/arm64")
	amd64, _ := platform.Parse("linux/amd64")
	mac := emulation.Capabilities{Driver: "vz", Rosetta: emulation.RosettaInstalled}
	r := New(drv, assets,
		WithNativePlatform(arm64),
		WithEmulation(filepath.Join(work, "emul"), mac),
		WithWritableDiskSize(256<<20),
	)
	if got := r.Emulates(); len(got) != 1 || got[0] != "linux/amd64=rosetta" {
		t.Fatalf("Emulates() = %v, want [linux/amd64=rosetta]", got)
	}

	rootDisk := rootDiskOf(t, testimages.BusyboxAMD64)
	dir := t.TempDir()
	// Files are read with the shell's builtins: busybox's sh starts many
	// applets by re-executing /proc/self/exe under the applet's name, and
	// qemu-user loses that name under Rosetta's flags, which lack P
	// (preserve argv[0]), so `cat` would run as sh. The stand-in keeps
	// Rosetta's flags all the same: this test is about the Mac's path.
	req, out, errOut := request(t, dir, rootDisk, "sh", "-c", `uname -m
read -r release </proc/sys/kernel/osrelease && echo "$release"
while read -r l; do echo "$l"; done </proc/sys/fs/binfmt_misc/rosetta
[ -e /pier ] && echo "/pier is visible" || echo "no /pier"`)
	req.Image = &image.Image{Platform: amd64}
	req.MemoryMiB = 512
	st := runToExit(t, r, req)
	got := out.String()
	if st.Code != 0 || errOut.String() != "" {
		console, _ := os.ReadFile(req.ConsoleLog)
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s\nconsole:\n%s", st.Code, got, errOut.String(), console)
	}
	t.Logf("the container's output:\n%s", got)
	lines := strings.Split(got, "\n")
	if lines[0] != "x86_64" {
		t.Errorf("uname -m in the container = %q, want x86_64", lines[0])
	}
	if len(lines) < 2 || lines[1] != assets.KernelRelease || !strings.HasSuffix(lines[1], "arm64") {
		t.Errorf("kernel release %q, want the arm64 guest kernel's %q", lines[1], assets.KernelRelease)
	}
	for _, want := range []string{
		"\nenabled\n",
		"\ninterpreter /pier/emul/rosetta\n",
		"\nflags: OCF\n", // C as Apple documents (C implies O), F to survive the switch into the container's root
		"\noffset 0\n",
		"\nmagic " + rosettaMagic + "\n",
		"\nmask " + rosettaMask + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the rosetta binfmt rule lacks %q:\n%s", strings.TrimSpace(want), got)
		}
	}
	if !strings.HasSuffix(got, "\nno /pier\n") {
		t.Errorf("the emulator's share is visible in the container:\n%s", got)
	}
}

// nameOnlyDriver is a vm.Driver that boots nothing.
type nameOnlyDriver struct{ name string }

func (d nameOnlyDriver) Name() string  { return d.name }
func (d nameOnlyDriver) Accel() string { return "none" }
func (d nameOnlyDriver) Start(context.Context, vm.Spec) (vm.Machine, error) {
	return nil, errors.New("boots nothing")
}

// TestNativePlatformDecidesEmulation: the emulation decision is taken
// against the guests' platform, the host's unless WithNativePlatform says
// otherwise.
func TestNativePlatformDecidesEmulation(t *testing.T) {
	arm64, _ := platform.Parse("linux/arm64")
	amd64, _ := platform.Parse("linux/amd64")
	mac := emulation.Capabilities{Driver: "vz", Rosetta: emulation.RosettaInstalled}
	r := New(nameOnlyDriver{"vz"}, nil, WithEmulation(t.TempDir(), mac), WithNativePlatform(arm64))
	if err := r.CheckPlatform(arm64); err != nil {
		t.Errorf("arm64 on arm64 guests: %v", err)
	}
	if err := r.CheckPlatform(amd64); err != nil {
		t.Errorf("amd64 under Rosetta: %v", err)
	}
	if got := r.Emulates(); !slices.Equal(got, []string{"linux/amd64=rosetta"}) {
		t.Errorf("Emulates() = %v", got)
	}

	// By default the host's platform is native.
	r = New(nameOnlyDriver{"qemu"}, nil)
	if err := r.CheckPlatform(platform.Host()); err != nil {
		t.Errorf("the host's own platform: %v", err)
	}
	if got := r.Emulates(); len(got) != 0 {
		t.Errorf("no emulators configured, yet Emulates() = %v", got)
	}
}

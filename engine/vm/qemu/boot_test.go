package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/vmtest"
	"github.com/pier-vm/pier/errdefs"
	"golang.org/x/sys/unix"
)

// testAssets are the kernel and the test-init initramfs, built once in
// TestMain (nil when the guest kernel is missing: the boot tests skip).
var testAssets *guestassets.Assets

func TestMain(m *testing.M) {
	work, err := os.MkdirTemp("", "pier-qemu-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testAssets, err = vmtest.Assets(work)
	if err != nil && !errors.Is(err, vmtest.ErrNoKernel) {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(work)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(work)
	os.Exit(code)
}

func needAssets(t testing.TB) *guestassets.Assets {
	t.Helper()
	if testAssets == nil {
		t.Skip(vmtest.ErrNoKernel)
	}
	return testAssets
}

func tcgDriver(t testing.TB) *Driver {
	t.Helper()
	d, err := New(WithAccel(AccelTCG), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// testSpec is a VM of the test init with a short state directory.
func testSpec(t testing.TB, a *guestassets.Assets, cmdline string) vm.Spec {
	dir := t.TempDir()
	return vm.Spec{
		ID: "t", StateDir: filepath.Join(dir, "state"), Kernel: a.Kernel, Initramfs: a.Initramfs,
		Cmdline: cmdline, MemoryMiB: 512, CPUs: 1, ConsoleLog: filepath.Join(dir, "console.log"),
	}
}

// readReport reads the test init's report line and lets it power off.
func readReport(t testing.TB, m vm.Machine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := m.DialAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	if _, err := io.WriteString(conn, "ok\n"); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}

func waitDone(t testing.TB, m vm.Machine) {
	t.Helper()
	select {
	case <-m.Done():
	case <-time.After(60 * time.Second):
		m.Kill()
		t.Fatal("VM did not power off")
	}
}

// assertGone checks that pid no longer exists and that the state directory
// holds no socket or pid file.
func assertGone(t *testing.T, pid int, stateDir string) {
	t.Helper()
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("process %d still exists (kill 0: %v)", pid, err)
	}
	for _, pattern := range []string{"*.sock", "*.pid"} {
		left, _ := filepath.Glob(filepath.Join(stateDir, pattern))
		if len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	}
}

func TestBootWithDiskReportsOverAgent(t *testing.T) {
	a := needAssets(t)
	d := tcgDriver(t)
	spec := testSpec(t, a, "pier.test=report pier.disk=1")
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, append([]byte("PIERDISK"), make([]byte, 1<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Disks = []vm.Disk{{Path: disk, ReadOnly: true}}

	m, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	if b, err := os.ReadFile(filepath.Join(spec.StateDir, qemuPidName)); err != nil || strings.TrimSpace(string(b)) != fmt.Sprint(m.Pid()) {
		t.Errorf("pid file: %q, %v; want %d", b, err, m.Pid())
	}

	got := readReport(t, m)
	want := fmt.Sprintf("release=%s vda=PIERDISK", a.KernelRelease)
	if got != want {
		t.Errorf("report = %q, want %q", got, want)
	}
	waitDone(t, m)
	if err := m.Err(); err != nil {
		t.Errorf("Err after power-off = %v, want nil", err)
	}
	console, _ := os.ReadFile(spec.ConsoleLog)
	for _, want := range []string{"testinit: modules loaded", "reboot: Power down"} {
		if !strings.Contains(string(console), want) {
			t.Errorf("console log lacks %q (guest and kernel output):\n%s", want, console)
		}
	}
	assertGone(t, m.Pid(), spec.StateDir)
}

func TestShareOverVirtiofs(t *testing.T) {
	a := needAssets(t)
	d := tcgDriver(t)
	spec := testSpec(t, a, "pier.test=report pier.share=emul:hello.txt")
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "hello.txt"), []byte("from-the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Shares = []vm.Share{{Tag: "emul", HostPath: shared, ReadOnly: true}}

	m, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	fsdPid := pidFromFile(t, filepath.Join(spec.StateDir, virtiofsdPidName(0)))

	got := readReport(t, m)
	if !strings.HasSuffix(got, " share=from-the-host write=error") {
		t.Errorf("report = %q, want the shared file's content and a refused write", got)
	}
	if _, err := os.Stat(filepath.Join(shared, "guest-wrote")); err == nil {
		t.Error("the guest wrote into a read-only share")
	}
	waitDone(t, m)
	if err := m.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
	assertGone(t, m.Pid(), spec.StateDir)
	assertGone(t, fsdPid, spec.StateDir)
}

func pidFromFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || pid <= 0 {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

func TestKillHungVM(t *testing.T) {
	a := needAssets(t)
	d := tcgDriver(t)
	spec := testSpec(t, a, "pier.test=hang")
	// Longer than a unix socket path may be: sockets must still work.
	spec.StateDir = filepath.Join(spec.StateDir, strings.Repeat("long", 30))
	spec.Shares = []vm.Share{{Tag: "emul", HostPath: t.TempDir()}}
	m, err := d.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	fsdPid := pidFromFile(t, filepath.Join(spec.StateDir, virtiofsdPidName(0)))
	// Wait until the guest is up and hanging, then kill it.
	deadline := time.Now().Add(60 * time.Second)
	for !consoleHas(spec.ConsoleLog, "testinit: hanging") {
		if time.Now().After(deadline) {
			t.Fatal("guest never reached its hang")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if !isClosed(m.Done()) {
		t.Error("Done still open after Kill")
	}
	if !errors.Is(m.Err(), errKilled) {
		t.Errorf("Err = %v, want %v", m.Err(), errKilled)
	}
	if err := m.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	assertGone(t, m.Pid(), spec.StateDir)
	assertGone(t, fsdPid, spec.StateDir)
}

func TestMissingKernel(t *testing.T) {
	d := tcgDriver(t)
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd")
	os.WriteFile(initrd, []byte("x"), 0o644)
	_, err := d.Start(context.Background(), vm.Spec{
		ID: "k", StateDir: filepath.Join(dir, "s"), Kernel: filepath.Join(dir, "no-such-vmlinux"), Initramfs: initrd,
	})
	if err == nil {
		t.Fatal("Start with a missing kernel succeeded")
	}
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no-such-vmlinux") {
		t.Errorf("err = %v (kind %v), want a not-found error naming the kernel", err, errdefs.KindOf(err))
	}
}

// BenchmarkBootToAgent measures QEMU start → the guest's report line on the
// agent port (median reported as median-s-to-agent) → QEMU gone (ns/op).
func BenchmarkBootToAgent(b *testing.B) {
	a := needAssets(b)
	d := tcgDriver(b)
	var toAgent []time.Duration
	for i := 0; i < b.N; i++ {
		spec := testSpec(b, a, "pier.test=report")
		start := time.Now()
		m, err := d.Start(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		readReport(b, m)
		toAgent = append(toAgent, time.Since(start))
		waitDone(b, m)
		if err := m.Err(); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(toAgent)
	b.ReportMetric(toAgent[len(toAgent)/2].Seconds(), "median-s-to-agent")
}

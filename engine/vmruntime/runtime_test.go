package vmruntime

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
	"github.com/pier-vm/pier/internal/testimages"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// repoRoot finds the module root.
func repoRoot(t *testing.T) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

var (
	sharedOnce   sync.Once
	sharedAssets *guestassets.Assets
	sharedDriver *qemu.Driver
	sharedErr    error
	sharedSkip   string
)

// TestMain removes the shared asset cache after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedCache != "" {
		os.RemoveAll(sharedCache)
	}
	os.Exit(code)
}

var sharedCache string

// newRuntime boots real VMs from bin/guest/<arch> (make guest guest-assets).
// The driver (and its one KVM probe) is shared by the tests.
func newRuntime(t *testing.T) *Runtime {
	t.Helper()
	sharedOnce.Do(func() {
		guestDir := filepath.Join(repoRoot(t), "bin", "guest", runtime.GOARCH)
		sharedCache, sharedErr = os.MkdirTemp("", "pier-vmruntime-test-")
		if sharedErr != nil {
			return
		}
		if sharedAssets, sharedErr = guestassets.Prepare(guestDir, sharedCache); sharedErr != nil {
			sharedSkip = "guest assets missing (run make guest guest-assets): " + sharedErr.Error()
			return
		}
		sharedDriver, sharedErr = qemu.New(qemu.WithAccel("auto"), qemu.WithProbe(sharedAssets.Kernel, sharedAssets.Initramfs), qemu.WithDataRoot(sharedCache))
		if sharedErr != nil && strings.Contains(sharedErr.Error(), "not found") {
			sharedSkip = "QEMU not installed (make deps): " + sharedErr.Error()
		}
	})
	if sharedSkip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(sharedSkip)
		}
		t.Skip(sharedSkip)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return New(sharedDriver, sharedAssets, WithWritableDiskSize(256<<20))
}

// busyboxRootDisk builds the test busybox image's root disk.
func busyboxRootDisk(t *testing.T) string {
	t.Helper()
	name := testimages.BusyboxAMD64
	if runtime.GOARCH == "arm64" {
		name = testimages.BusyboxARM64
	}
	return rootDiskOf(t, name)
}

// rootDiskOf builds the root disk of a single-platform test image.
func rootDiskOf(t *testing.T, name string) string {
	t.Helper()
	set := testimages.Require(t)
	img, err := set.Image(name, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "root.ext4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc := mutate.Extract(img)
	defer rc.Close()
	if err := tar2ext4.Convert(rc, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func request(t *testing.T, dir, rootDisk string, args ...string) (engine.RunRequest, *syncBuffer, *syncBuffer) {
	var out, errOut syncBuffer
	return engine.RunRequest{
		ContainerID:  strings.Repeat("ab", 32),
		RootDisk:     rootDisk,
		WritableDisk: filepath.Join(dir, "rw.img"),
		Process:      engine.ProcessSpec{Args: args, Env: []string{"PATH=" + testimages.DefaultPath}},
		Stdio:        engine.Stdio{Stdout: &out, Stderr: &errOut},
		Hostname:     "pier-test",
		MemoryMiB:    256,
		CPUs:         1,
		StateDir:     filepath.Join(dir, "vm"),
		ConsoleLog:   filepath.Join(dir, "console.log"),
	}, &out, &errOut
}

func runToExit(t *testing.T, r *Runtime, req engine.RunRequest) engine.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := r.Start(ctx, req)
	if err != nil {
		log, _ := os.ReadFile(req.ConsoleLog)
		t.Fatalf("start: %v\nconsole:\n%s", err, log)
	}
	defer sb.Kill()
	st, err := sb.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	select {
	case <-sb.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the VM did not power off after the main process exited")
	}
	return st
}

func TestContainerRunsInVMAndWritableLayerPersists(t *testing.T) {
	r := newRuntime(t)
	root := busyboxRootDisk(t)
	dir := t.TempDir()

	req, out, errOut := request(t, dir, root, "sh", "-c", "echo hi; uname -r; hostname; id -u; echo persisted > /data.txt; chown 1000:1000 /data.txt; echo err >&2; exit 3")
	st := runToExit(t, r, req)
	want := "hi\n" + r.assets.KernelRelease + "\npier-test\n0\n"
	if st.Code != 3 || out.String() != want || errOut.String() != "err\n" {
		t.Fatalf("first boot: code %d stdout %q stderr %q; want 3 %q", st.Code, out.String(), errOut.String(), want)
	}
	if host, _ := os.ReadFile("/proc/sys/kernel/osrelease"); strings.TrimSpace(string(host)) == r.assets.KernelRelease {
		t.Log("host and guest kernels have the same release; uname check is weak here")
	}

	req, out, _ = request(t, dir, root, "sh", "-c", "cat /data.txt; stat -c %u:%g /data.txt")
	req.Process.User = "65534"
	req.Process.Args = []string{"sh", "-c", "cat /data.txt; stat -c %u:%g /data.txt; id -u"}
	st = runToExit(t, r, req)
	if st.Code != 0 || out.String() != "persisted\n1000:1000\n65534\n" {
		t.Fatalf("second boot: code %d stdout %q", st.Code, out.String())
	}
}

func TestExecAndKill(t *testing.T) {
	r := newRuntime(t)
	root := busyboxRootDisk(t)
	dir := t.TempDir()
	req, _, _ := request(t, dir, root, "sleep", "300")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sb, err := r.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Kill()
	var out syncBuffer
	p, err := sb.Exec(ctx, engine.ExecRequest{ID: "x", Process: engine.ProcessSpec{Args: []string{"sh", "-c", "echo exec-ok; exit 5"}}, Stdio: engine.Stdio{Stdout: &out}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx); err != nil || st.Code != 5 || out.String() != "exec-ok\n" {
		t.Fatalf("exec: %+v %v %q", st, err, out.String())
	}
	if sb.HostPid() <= 0 {
		t.Fatalf("host pid %d", sb.HostPid())
	}
	if err := sb.Signal(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st, err := sb.Wait(ctx); err != nil || st.Code != 137 {
		t.Fatalf("kill: %+v %v", st, err)
	}
}

func TestMissingProgramFailsStartAndLeavesNothing(t *testing.T) {
	r := newRuntime(t)
	root := busyboxRootDisk(t)
	dir := t.TempDir()
	req, _, _ := request(t, dir, root, "no-such-program")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := r.Start(ctx, req)
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("want not found, got %v", err)
	}
	if pids, _ := filepath.Glob(filepath.Join(req.StateDir, "*.sock")); len(pids) != 0 {
		t.Fatalf("sockets left behind: %v", pids)
	}
}

func TestForeignImageRunsUnderQEMUUser(t *testing.T) {
	r := arm64Runtime(t)
	root := rootDiskOf(t, testimages.BusyboxARM64)
	dir := t.TempDir()
	arm64, _ := platform.Parse("linux/arm64")
	req, out, errOut := request(t, dir, root, "sh", "-c", "uname -m; cat /proc/sys/fs/binfmt_misc/qemu-aarch64; ls /pier /opt/pier /usr/lib/binfmt.d 2>&1 || true")
	req.Image = &image.Image{Platform: arm64}
	st := runToExit(t, r, req)
	got := out.String()
	if st.Code != 0 || !strings.HasPrefix(got, "aarch64\nenabled\n") || !strings.Contains(got, "flags: PF") || strings.Count(got, "No such file or directory") != 3 {
		t.Fatalf("code %d stdout %q stderr %q", st.Code, got, errOut.String())
	}

	// Without the emulator the start is refused with what to install.
	r2 := New(r.driver, r.assets, WithEmulation(t.TempDir(), emulation.Capabilities{Driver: "qemu"}))
	req, _, _ = request(t, t.TempDir(), root, "true")
	req.Image = &image.Image{Platform: arm64}
	if _, err := r2.Start(context.Background(), req); err == nil || !strings.Contains(err.Error(), "install qemu-user-static") {
		t.Fatalf("want a refusal naming qemu-user-static, got %v", err)
	}
}

// arm64Runtime is a runtime that runs arm64 images under qemu-user on this
// x86-64 host (skipped elsewhere; a missing emulator fails under CI).
func arm64Runtime(t *testing.T) *Runtime {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("this test runs the arm64 image on an x86-64 host")
	}
	caps := emulation.Capabilities{Driver: "qemu", QEMUUser: emulation.FindQEMUUser(platform.Host(), exec.LookPath)}
	if caps.QEMUUser["arm64"] == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("qemu-aarch64-static missing (make deps installs qemu-user-static)")
		}
		t.Skip("qemu-aarch64-static missing (make deps)")
	}
	shared := newRuntime(t)
	return New(shared.driver, shared.assets, WithWritableDiskSize(256<<20), WithEmulation(t.TempDir(), caps))
}

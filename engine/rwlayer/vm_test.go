package rwlayer_test

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/rwlayer"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
	"github.com/pier-vm/pier/engine/vmruntime"
)

// skipOrFail skips a test that lacks its VM prerequisites, and fails it
// under CI, where they must be there.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

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

// busyboxRootDisk writes a root disk holding the host's static busybox,
// its applets and an /etc/passwd.
func busyboxRootDisk(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil || !bytes.Contains(bb[:min(len(bb), 4096)], []byte("ELF")) {
		skipOrFail(t, "no static /bin/busybox (apt-get install busybox-static)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "proc/", "sys/", "dev/"} {
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755}, bb)
	for _, applet := range []string{"sh", "cat", "echo", "stat", "df", "dd", "uname", "id", "ls", "sync"} {
		add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644}, []byte("root:x:0:\nnogroup:x:65534:\n"))
	tw.Close()
	path := filepath.Join(t.TempDir(), "root.ext4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tar2ext4.Convert(&buf, f); err != nil {
		t.Fatal(err)
	}
	return path
}

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

// TestWritableDiskGrowsAndPersistsInVM boots a container twice on one
// writable disk made by Create: the guest grows the 128 MiB template to the
// whole 512 MiB disk, a file larger than the template fits, and files keep
// their owner and mode across the reboot.
func TestWritableDiskGrowsAndPersistsInVM(t *testing.T) {
	guestDir := filepath.Join(repoRoot(t), "bin", "guest", runtime.GOARCH)
	cache := t.TempDir()
	assets, err := guestassets.Prepare(guestDir, cache)
	if err != nil {
		skipOrFail(t, "guest assets missing (run make guest guest-assets): "+err.Error())
	}
	driver, err := qemu.New(qemu.WithAccel("auto"), qemu.WithProbe(assets.Kernel, assets.Initramfs), qemu.WithDataRoot(cache))
	if err != nil {
		skipOrFail(t, "QEMU unavailable (make deps): "+err.Error())
	}
	r := vmruntime.New(driver, assets)
	root := busyboxRootDisk(t)
	dir := t.TempDir()
	rw := filepath.Join(dir, "rw.img")
	if err := rwlayer.Create(rw, 512<<20); err != nil {
		t.Fatal(err)
	}

	run := func(boot string, script string) (engine.ExitStatus, string) {
		t.Helper()
		var out, errOut syncBuffer
		req := engine.RunRequest{
			ContainerID:  strings.Repeat("cd", 32),
			RootDisk:     root,
			WritableDisk: rw,
			Process:      engine.ProcessSpec{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/bin"}},
			Stdio:        engine.Stdio{Stdout: &out, Stderr: &errOut},
			Hostname:     "rwlayer-test",
			MemoryMiB:    256,
			CPUs:         1,
			StateDir:     filepath.Join(dir, "vm-"+boot),
			ConsoleLog:   filepath.Join(dir, boot+".log"),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sb, err := r.Start(ctx, req)
		if err != nil {
			log, _ := os.ReadFile(req.ConsoleLog)
			t.Fatalf("%s boot: %v\nconsole:\n%s", boot, err, log)
		}
		defer sb.Kill()
		st, err := sb.Wait(ctx)
		if err != nil {
			t.Fatalf("%s boot: wait: %v", boot, err)
		}
		select {
		case <-sb.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s boot: the VM did not power off", boot)
		}
		if errOut.String() != "" {
			log, _ := os.ReadFile(req.ConsoleLog)
			t.Logf("%s boot stderr: %s\nconsole:\n%s", boot, errOut.String(), log)
		}
		return st, out.String()
	}

	st, out := run("first", "dd if=/dev/zero of=/big bs=1M count=200 2>/dev/null && echo kept > /f && chown 1000:2000 /f && chmod 640 /f && ls -l /big | (read m l u g size rest; echo $size); exit 3")
	if st.Code != 3 || out != "209715200\n" {
		t.Fatalf("first boot: code %d stdout %q; want 3 and a 200 MiB file", st.Code, out)
	}
	st, out = run("second", "cat /f; stat -c '%u:%g %a' /f; stat -c %s /big")
	if st.Code != 0 || out != "kept\n1000:2000 640\n209715200\n" {
		t.Fatalf("second boot: code %d stdout %q", st.Code, out)
	}
}

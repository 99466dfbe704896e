package vmruntime

import (
	"archive/tar"
	"context"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/guest/proto"
	"github.com/pier-vm/pier/internal/testimages"
)

// recordingDriver boots nothing: it records the vm.Spec, and its machine's
// agent records the ContainerSpec the runtime sends, then refuses it.
type recordingDriver struct {
	mu        sync.Mutex
	spec      vm.Spec
	container *proto.ContainerSpec
}

func (d *recordingDriver) Name() string  { return "qemu" }
func (d *recordingDriver) Accel() string { return "tcg" }

func (d *recordingDriver) Start(_ context.Context, spec vm.Spec) (vm.Machine, error) {
	d.mu.Lock()
	d.spec = spec
	d.mu.Unlock()
	return &recordingMachine{driver: d, done: make(chan struct{})}, nil
}

type recordingMachine struct {
	driver *recordingDriver
	done   chan struct{}
	once   sync.Once
}

func (m *recordingMachine) ID() string            { return "fake" }
func (m *recordingMachine) Pid() int              { return 0 }
func (m *recordingMachine) Done() <-chan struct{} { return m.done }
func (m *recordingMachine) Err() error            { return nil }
func (m *recordingMachine) Kill() error           { m.once.Do(func() { close(m.done) }); return nil }

// errRecorded is the fake agent's answer to StartContainer.
const errRecorded = "recorded, not started"

func (m *recordingMachine) DialAgent(context.Context) (net.Conn, error) {
	host, guest := net.Pipe()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	go func() {
		rwc, err := proto.AcceptSync(guest)
		if err != nil {
			return
		}
		session, err := yamux.Server(rwc, cfg)
		if err != nil {
			return
		}
		go func() {
			<-m.done
			session.Close()
		}()
		for {
			s, err := session.Accept()
			if err != nil {
				return
			}
			var req proto.Request
			if proto.ReadMessage(s, &req) == nil {
				switch req.Op {
				case proto.OpHello:
					proto.WriteMessage(s, proto.Response{Hello: &proto.HelloInfo{Version: proto.Version}})
				case proto.OpStart:
					m.driver.mu.Lock()
					m.driver.container = req.Container
					m.driver.mu.Unlock()
					proto.WriteMessage(s, proto.Response{Error: errRecorded})
				}
			}
			s.Close()
		}
	}()
	return host, nil
}

// otherArch is the architecture this host emulates.
func otherArch(t *testing.T) string {
	switch platform.Host().Architecture {
	case "amd64":
		return "arm64"
	case "arm64":
		return "amd64"
	}
	t.Skipf("no foreign architecture for %s", platform.Host().Architecture)
	return ""
}

// TestStartAttachesTheEmulatorOnlyWhenNeeded runs Runtime.Start against a
// driver and agent that record what they are given: a native image gets no
// emulator and no emulation spec, a foreign one a read-only disk holding
// only its emulator (no share: the VM keeps a template shape), and systemd
// mode follows the main process.
func TestStartAttachesTheEmulatorOnlyWhenNeeded(t *testing.T) {
	foreign := otherArch(t)
	bin := emulation.QEMUBinary(foreign)
	emulator := filepath.Join(t.TempDir(), bin)
	if err := os.WriteFile(emulator, []byte("a static emulator"), 0o755); err != nil {
		t.Fatal(err)
	}
	emulDir := t.TempDir()
	caps := emulation.Capabilities{Driver: "qemu", QEMUUser: map[string]string{foreign: emulator}}
	native := platform.Host()
	foreignPlatform, err := platform.Parse("linux/" + foreign)
	if err != nil {
		t.Fatal(err)
	}

	emulated := func(systemd bool) *proto.EmulationSpec {
		return &proto.EmulationSpec{Device: "serial:pier-emul", Interpreter: bin, Arch: foreign, Flags: "FP", Systemd: systemd}
	}
	cases := []struct {
		name     string
		img      *image.Image
		args     []string
		wantDisk bool
		wantEmul *proto.EmulationSpec
	}{
		{"native", &image.Image{Platform: native}, []string{"uname", "-m"}, false, nil},
		{"native systemd", &image.Image{Platform: native}, []string{"/sbin/init"}, false, nil},
		{"no image", nil, []string{"true"}, false, nil},
		{"foreign", &image.Image{Platform: foreignPlatform}, []string{"uname", "-m"}, true, emulated(false)},
		{"foreign /sbin/init", &image.Image{Platform: foreignPlatform}, []string{"/sbin/init"}, true, emulated(true)},
		{"foreign systemd", &image.Image{Platform: foreignPlatform}, []string{"/usr/lib/systemd/systemd", "--system"}, true, emulated(true)},
		{"foreign shell starting init", &image.Image{Platform: foreignPlatform}, []string{"sh", "-c", "exec /sbin/init"}, true, emulated(false)},
	}
	var emulDisk string
	for _, tc := range cases {
		d := &recordingDriver{}
		r := New(d, &guestassets.Assets{Kernel: "vmlinux", Initramfs: "initramfs"}, WithWritableDiskSize(256<<20), WithEmulation(emulDir, caps))
		dir := t.TempDir()
		req := engine.RunRequest{
			ContainerID:  strings.Repeat("cd", 32),
			Image:        tc.img,
			RootDisk:     filepath.Join(dir, "root.ext4"),
			WritableDisk: filepath.Join(dir, "rw.img"),
			Process:      engine.ProcessSpec{Args: tc.args},
			StateDir:     filepath.Join(dir, "vm"),
			ConsoleLog:   filepath.Join(dir, "console.log"),
		}
		_, err := r.Start(context.Background(), req)
		if err == nil || !strings.Contains(err.Error(), errRecorded) {
			t.Fatalf("%s: start: %v, want the fake agent's refusal", tc.name, err)
		}
		if len(d.spec.Shares) != 0 {
			t.Errorf("%s: shares %+v, want none", tc.name, d.spec.Shares)
		}
		wantDisks := []vm.Disk{
			{Path: req.RootDisk, ReadOnly: true, Serial: "pier-root"},
			{Path: req.WritableDisk, Serial: "pier-rw"},
		}
		if tc.wantDisk {
			if len(d.spec.Disks) == 3 {
				emulDisk = d.spec.Disks[2].Path
			}
			if filepath.Dir(emulDisk) != emulDir || !strings.HasPrefix(filepath.Base(emulDisk), foreign+"-") || filepath.Ext(emulDisk) != ".ext4" {
				t.Errorf("%s: emulator disk at %q, want %s/%s-KEY.ext4", tc.name, emulDisk, emulDir, foreign)
			}
			wantDisks = append(wantDisks, vm.Disk{Path: emulDisk, ReadOnly: true, Serial: "pier-emul"})
		}
		if !reflect.DeepEqual(d.spec.Disks, wantDisks) {
			t.Errorf("%s: disks %+v, want %+v", tc.name, d.spec.Disks, wantDisks)
		}
		if d.container == nil {
			t.Fatalf("%s: the agent got no container", tc.name)
		}
		if !reflect.DeepEqual(d.container.Emulation, tc.wantEmul) {
			t.Errorf("%s: emulation %+v, want %+v", tc.name, d.container.Emulation, tc.wantEmul)
		}
	}
	// One disk for every foreign start, and nothing else in the directory
	// (no temp files; nothing for the native architecture).
	entries, err := os.ReadDir(emulDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(emulDisk) {
		t.Fatalf("the emulation directory holds %v, want only %s", entries, filepath.Base(emulDisk))
	}
}

// TestRosettaStaysAShare: under the vz driver with Rosetta an amd64 image
// gets Apple's Rosetta directory share, as before the disks, and no disk.
func TestRosettaStaysAShare(t *testing.T) {
	arm64, _ := platform.Parse("linux/arm64")
	amd64, _ := platform.Parse("linux/amd64")
	emulDir := t.TempDir()
	d := &recordingDriver{}
	r := New(d, &guestassets.Assets{Kernel: "vmlinux", Initramfs: "initramfs"}, WithNativePlatform(arm64),
		WithEmulation(emulDir, emulation.Capabilities{Driver: "vz", Rosetta: emulation.RosettaInstalled}))
	dir := t.TempDir()
	req := engine.RunRequest{
		ContainerID:  strings.Repeat("ef", 32),
		Image:        &image.Image{Platform: amd64},
		RootDisk:     filepath.Join(dir, "root.ext4"),
		WritableDisk: filepath.Join(dir, "rw.img"),
		Process:      engine.ProcessSpec{Args: []string{"/sbin/init"}},
		StateDir:     filepath.Join(dir, "vm"),
		ConsoleLog:   filepath.Join(dir, "console.log"),
	}
	if _, err := r.Start(context.Background(), req); err == nil || !strings.Contains(err.Error(), errRecorded) {
		t.Fatalf("start: %v, want the fake agent's refusal", err)
	}
	if want := []vm.Share{{Tag: "pier-emul", Rosetta: true, ReadOnly: true}}; !reflect.DeepEqual(d.spec.Shares, want) {
		t.Errorf("shares %+v, want %+v", d.spec.Shares, want)
	}
	if len(d.spec.Disks) != 2 {
		t.Errorf("disks %+v, want the root and writable disks only", d.spec.Disks)
	}
	want := &proto.EmulationSpec{ShareTag: "pier-emul", Interpreter: "rosetta", Arch: "amd64", Flags: "CF", Systemd: true}
	if d.container == nil || !reflect.DeepEqual(d.container.Emulation, want) {
		t.Errorf("emulation %+v, want %+v", d.container, want)
	}
	if entries, _ := os.ReadDir(emulDir); len(entries) != 0 {
		t.Errorf("the emulation directory holds %v for Rosetta", entries)
	}
}

// fakeSystemd stands in for systemd in an arm64 busybox image: it does what
// systemd-binfmt does at boot (flush every rule, then register the
// binfmt.d files) with shell builtins only, then runs an arm64 program
// again through the re-registered rule. "/bin/busybox" with a slash is
// exec'd by the shell, never run as a built-in applet.
const fakeSystemd = `#!/bin/sh
uname -m
cat /usr/lib/binfmt.d/pier-qemu-aarch64.conf
ls /opt/pier/emul
echo -1 > /proc/sys/fs/binfmt_misc/status
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then echo "not flushed"; fi
while read -r line; do
	case "$line" in
	'' | '#'* | ';'*) ;;
	*) printf '%s' "$line" > /proc/sys/fs/binfmt_misc/register ;;
	esac
done < /usr/lib/binfmt.d/pier-qemu-aarch64.conf
/bin/busybox uname -m
/bin/busybox head -3 /proc/sys/fs/binfmt_misc/qemu-aarch64
`

// TestSystemdModeUnderQEMUUser boots an arm64 image whose main process is
// /usr/lib/systemd/systemd on this x86-64 host: the emulator's disk is
// mounted at /opt/pier/emul inside the root and the drop-in's rule,
// registered again after a flush the way systemd-binfmt does it, runs
// arm64 binaries.
func TestSystemdModeUnderQEMUUser(t *testing.T) {
	r := arm64Runtime(t)
	root := rootDiskWithFile(t, testimages.BusyboxARM64, "usr/lib/systemd/systemd", fakeSystemd)
	arm64, _ := platform.Parse("linux/arm64")
	req, out, errOut := request(t, t.TempDir(), root, "/usr/lib/systemd/systemd")
	req.Image = &image.Image{Platform: arm64}
	st := runToExit(t, r, req)
	const want = "aarch64\n" +
		"# Written by pier: run aarch64 binaries with /opt/pier/emul/qemu-aarch64-static.\n" +
		`:qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00` +
		`:\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff` +
		":/opt/pier/emul/qemu-aarch64-static:FP\n" +
		"lost+found\nqemu-aarch64-static\n" + // the emulator's ext4 disk
		"aarch64\n" +
		"enabled\ninterpreter /opt/pier/emul/qemu-aarch64-static\nflags: PF\n"
	if st.Code != 0 || out.String() != want {
		t.Fatalf("code %d stdout\n%s\nwant\n%s\nstderr %q", st.Code, out.String(), want, errOut.String())
	}
}

// rootDiskWithFile builds the root disk of a single-platform test image with
// one more executable file (and its parent directories).
func rootDiskWithFile(t *testing.T, name, file, content string) string {
	t.Helper()
	img, err := testimages.Require(t).Image(name, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		rc := mutate.Extract(img)
		defer rc.Close()
		tr, tw := tar.NewReader(rc), tar.NewWriter(pw)
		err := func() error {
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				if _, err := io.Copy(tw, tr); err != nil {
					return err
				}
			}
			var dir string
			for _, part := range strings.Split(path.Dir(file), "/") {
				dir = path.Join(dir, part)
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}); err != nil {
					return err
				}
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: file, Mode: 0o755, Size: int64(len(content))}); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, content); err != nil {
				return err
			}
			return tw.Close()
		}()
		pw.CloseWithError(err)
	}()
	disk := filepath.Join(t.TempDir(), "root.ext4")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tar2ext4.Convert(pr, f); err != nil {
		t.Fatal(err)
	}
	return disk
}

// TestEmulatedShapeHasTheEmulatorSlot: an emulated container's VM has a
// template shape (no share), the common shape plus a read-only slot for
// the emulator's disk, so it is cloned from a template of its own.
func TestEmulatedShapeHasTheEmulatorSlot(t *testing.T) {
	foreign := otherArch(t)
	emulator := filepath.Join(t.TempDir(), emulation.QEMUBinary(foreign))
	if err := os.WriteFile(emulator, []byte("a static emulator"), 0o755); err != nil {
		t.Fatal(err)
	}
	foreignPlatform, err := platform.Parse("linux/" + foreign)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	assets := &guestassets.Assets{Kernel: filepath.Join(dir, "vmlinux"), Initramfs: filepath.Join(dir, "initramfs")}
	for _, f := range []string{assets.Kernel, assets.Initramfs, filepath.Join(dir, "root.ext4")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := &recordingDriver{}
	r := New(d, assets, WithWritableDiskSize(256<<20),
		WithEmulation(t.TempDir(), emulation.Capabilities{Driver: "qemu", QEMUUser: map[string]string{foreign: emulator}}))
	req := engine.RunRequest{
		ContainerID:  strings.Repeat("ab", 32),
		Image:        &image.Image{Platform: foreignPlatform},
		RootDisk:     filepath.Join(dir, "root.ext4"),
		WritableDisk: filepath.Join(dir, "rw.img"),
		Process:      engine.ProcessSpec{Args: []string{"true"}},
		StateDir:     filepath.Join(dir, "vm"),
		ConsoleLog:   filepath.Join(dir, "console.log"),
	}
	if _, err := r.Start(context.Background(), req); err == nil || !strings.Contains(err.Error(), errRecorded) {
		t.Fatalf("start: %v, want the fake agent's refusal", err)
	}
	norm, err := vm.Normalize(d.spec)
	if err != nil {
		t.Fatal(err)
	}
	shape, ok := vm.ShapeOf(norm, 0)
	if !ok {
		t.Fatalf("an emulated container's VM has no template shape: %+v", norm)
	}
	want := r.CommonShape()
	want.NICs = 0 // no network in this request
	want.Disks = append(want.Disks, vm.DiskSlot{ReadOnly: true, Serial: "pier-emul", Size: vm.ReadOnlySlotSize})
	if !reflect.DeepEqual(shape, want) {
		t.Errorf("shape %+v, want %+v", shape, want)
	}
}

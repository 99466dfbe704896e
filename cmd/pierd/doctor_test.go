package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// writeELF writes the smallest ELF file debug/elf accepts: a 64-bit
// header for machine, with no sections.
func writeELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	var h elf.Header64
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	h.Type = uint16(elf.ET_EXEC)
	h.Machine = uint16(machine)
	h.Version = uint32(elf.EV_CURRENT)
	h.Ehsize = uint16(binary.Size(h))
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeGuestDir writes a guest directory for arch that guestassets.Check
// accepts: the kernel in the driver's format, a release, one module and
// an init ELF of the right machine.
func fakeGuestDir(t *testing.T, arch string) string {
	t.Helper()
	dir := t.TempDir()
	const kver = "6.1.0-test"
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("kernel.release", kver+"\n")
	write("modules/"+kver+"/modules.dep", "kernel/fs/fuse.ko:\n")
	write("modules/"+kver+"/kernel/fs/fuse.ko", "ko")
	switch arch {
	case "amd64":
		writeELF(t, filepath.Join(dir, "vmlinux"), elf.EM_X86_64)
		writeELF(t, filepath.Join(dir, "pier-init"), elf.EM_X86_64)
	case "arm64":
		image := make([]byte, 4096)
		copy(image[56:], "ARM\x64")
		write("vmlinux", string(image))
		writeELF(t, filepath.Join(dir, "pier-init"), elf.EM_AARCH64)
	}
	return dir
}

// onPath is a lookPath that finds exactly names, in /usr/bin.
func onPath(names ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, n := range names {
			if n == name {
				return "/usr/bin/" + name, nil
			}
		}
		return "", &exec.Error{Name: name, Err: exec.ErrNotFound}
	}
}

func executable(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "virtiofsd")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func linuxEnv(t *testing.T) doctorEnv {
	return doctorEnv{
		goos: "linux", goarch: "amd64",
		options: options{
			guestDir: fakeGuestDir(t, "amd64"),
			dataRoot: filepath.Join(t.TempDir(), "pier"),
			hosts:    []string{"unix://" + filepath.Join(t.TempDir(), "docker.sock")},
			accel:    "auto",
		},
		lookPath:  onPath("qemu-system-x86_64", "qemu-aarch64-static"),
		virtiofsd: executable(t),
		settleAccel: func() (string, string, error) {
			return "kvm", "KVM works: a probe boot under it succeeded (probed just now)", nil
		},
		macOSVersion: func() (string, error) { t.Error("macOS asked on Linux"); return "", nil },
		entitlements: func() (string, error) { t.Error("codesign asked on Linux"); return "", nil },
		rosetta:      func() error { t.Error("Rosetta asked on Linux"); return nil },
		ports: portsEnv{
			inContainer:  func() bool { return false },
			gatewayLocal: func() (bool, error) { t.Error("gateway asked outside a container"); return false, nil },
			root:         func() bool { return true },
		},
	}
}

func darwinEnv(t *testing.T) doctorEnv {
	return doctorEnv{
		goos: "darwin", goarch: "arm64",
		options: options{
			guestDir: fakeGuestDir(t, "arm64"),
			dataRoot: t.TempDir(),
			hosts:    []string{"unix://" + filepath.Join(t.TempDir(), "docker.sock")},
			accel:    "auto",
		},
		lookPath:     onPath(),
		settleAccel:  func() (string, string, error) { t.Error("KVM asked on macOS"); return "", "", nil },
		macOSVersion: func() (string, error) { return "14.5", nil },
		entitlements: func() (string, error) {
			return "Executable=/usr/local/bin/pierd\n[Dict]\n\t[Key] com.apple.security.virtualization\n\t[Value]\n\t\t[Bool] true\n", nil
		},
		rosetta: func() error { return nil },
	}
}

// doctor runs the checks and returns the output and the failure count.
func doctor(env doctorEnv) (string, int) {
	var out bytes.Buffer
	n := runDoctor(&out, env)
	return out.String(), n
}

// line finds the output line of check that contains want.
func line(t *testing.T, out, status, check, want string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && f[0] == status && strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(l, f[0])), check) && strings.Contains(l, want) {
			return
		}
	}
	t.Errorf("no %q line for %q containing %q in:\n%s", status, check, want, out)
}

func TestDoctorLinuxAllGood(t *testing.T) {
	out, failed := doctor(linuxEnv(t))
	if failed != 0 {
		t.Errorf("%d failures:\n%s", failed, out)
	}
	line(t, out, "ok", "platform", "linux/amd64: the QEMU driver")
	line(t, out, "ok", "qemu", "/usr/bin/qemu-system-x86_64")
	line(t, out, "ok", "kvm", "KVM works")
	line(t, out, "ok", "virtiofsd", "virtiofsd")
	line(t, out, "ok", "qemu-user-static", "linux/arm64 images run under /usr/bin/qemu-aarch64-static")
	line(t, out, "ok", "guest assets", "kernel 6.1.0-test, 1 module (shares over virtio-fs only (no 9p modules)),")
	line(t, out, "ok", "data root", "(pierd creates it)")
	line(t, out, "ok", "socket", "no daemon yet")
	line(t, out, "ok", "published ports", "clients here dial localhost")
	line(t, out, "ok", "vm templates", "none yet")
	if !strings.HasSuffix(out, "10 ok, 0 warnings, 0 failures\n") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestDoctorLinuxProblems(t *testing.T) {
	env := linuxEnv(t)
	env.lookPath = onPath()
	env.virtiofsd = "/nonexistent/virtiofsd"
	env.settleAccel = func() (string, string, error) {
		return "tcg", "/dev/kvm: open /dev/kvm: no such file or directory", nil
	}
	env.guestDir = t.TempDir()
	out, failed := doctor(env)
	if failed != 2 {
		t.Errorf("%d failures, want 2 (qemu, guest assets):\n%s", failed, out)
	}
	line(t, out, "fail", "qemu", "qemu-system-x86_64 not found: install qemu-system-x86")
	line(t, out, "warn", "kvm", "TCG fallback")
	line(t, out, "warn", "kvm", "/dev/kvm: open /dev/kvm")
	line(t, out, "warn", "virtiofsd", "install qemu-system-common")
	line(t, out, "warn", "qemu-user-static", "linux/arm64 images cannot run: qemu-aarch64-static not found (install qemu-user-static)")
	line(t, out, "fail", "guest assets", "make guest-assets")

	// TCG because it was asked for is no warning.
	env = linuxEnv(t)
	env.accel = "tcg"
	env.settleAccel = func() (string, string, error) { return "tcg", "acceleration tcg asked for", nil }
	out, _ = doctor(env)
	line(t, out, "ok", "kvm", "TCG, as --accel tcg asks")

	// A driver that cannot even start is reported, not fatal.
	env.settleAccel = func() (string, string, error) { return "", "", errors.New("qemu: boom") }
	out, _ = doctor(env)
	line(t, out, "warn", "kvm", "cannot tell: qemu: boom")
}

func TestDoctorMacAllGood(t *testing.T) {
	out, failed := doctor(darwinEnv(t))
	if failed != 0 {
		t.Errorf("%d failures:\n%s", failed, out)
	}
	line(t, out, "ok", "platform", "darwin/arm64: the vz driver")
	line(t, out, "ok", "macos", "macOS 14.5")
	line(t, out, "ok", "entitlement", "signed with com.apple.security.virtualization")
	line(t, out, "ok", "rosetta", "installed")
	line(t, out, "ok", "guest assets", "kernel 6.1.0-test")
	line(t, out, "ok", "vm templates", "none yet")
	for _, linuxOnly := range []string{"qemu", "kvm", "virtiofsd"} {
		if strings.Contains(out, "  "+linuxOnly+" ") {
			t.Errorf("Linux check %s on macOS:\n%s", linuxOnly, out)
		}
	}
}

func TestDoctorMacProblems(t *testing.T) {
	env := darwinEnv(t)
	env.macOSVersion = func() (string, error) { return "12.7.1", nil }
	env.entitlements = func() (string, error) {
		return "", errors.New("/usr/local/bin/pierd: code object is not signed at all")
	}
	env.rosetta = func() error {
		return errdefs.Unavailable(errors.New("Rosetta for Linux is not installed: run `softwareupdate --install-rosetta --agree-to-license`, then retry"))
	}
	out, failed := doctor(env)
	if failed != 2 {
		t.Errorf("%d failures, want 2 (macOS, entitlement):\n%s", failed, out)
	}
	line(t, out, "fail", "macos", "macOS 12.7.1: the vz driver needs macOS 13 (Ventura) or later")
	line(t, out, "fail", "entitlement", "not signed at all; run `make sign`")
	line(t, out, "warn", "rosetta", "softwareupdate --install-rosetta --agree-to-license")

	env = darwinEnv(t)
	env.entitlements = func() (string, error) { return "Executable=/x\n", nil }
	out, _ = doctor(env)
	line(t, out, "fail", "entitlement", "signed without com.apple.security.virtualization")
	env.entitlements = func() (string, error) { return "", &exec.Error{Name: "codesign", Err: exec.ErrNotFound} }
	out, _ = doctor(env)
	line(t, out, "warn", "entitlement", "codesign not found")

	// macOS 13 runs, without VM templates (save and restore came with 14);
	// nothing promises Rosetta's translation cache.
	env = darwinEnv(t)
	env.macOSVersion = func() (string, error) { return "13.6.7", nil }
	out, _ = doctor(env)
	line(t, out, "ok", "macos", "macOS 13.6.7 (VM templates need 14 or later: containers boot cold)")
	if strings.Contains(out, "translation cache") {
		t.Errorf("doctor promises Rosetta's translation cache:\n%s", out)
	}
}

func TestDoctorPlatforms(t *testing.T) {
	for _, c := range []struct{ goos, goarch, status, want string }{
		{"linux", "arm64", "ok", "the QEMU driver"},
		{"darwin", "amd64", "fail", "Apple silicon required"},
		{"windows", "amd64", "fail", "pier runs on linux/amd64, linux/arm64 and darwin/arm64"},
	} {
		f := checkPlatform(doctorEnv{goos: c.goos, goarch: c.goarch})
		if f.status.String() != c.status || !strings.Contains(f.detail, c.want) {
			t.Errorf("%s/%s: %v %q", c.goos, c.goarch, f.status, f.detail)
		}
	}
}

func TestDoctorSockets(t *testing.T) {
	dir := t.TempDir()

	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			fmt.Fprint(w, "OK")
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(l)
	defer srv.Close()

	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o644)

	for _, c := range []struct{ host, status, want string }{
		{"unix://" + live, "ok", "a Docker API daemon answers (owner "},
		{"unix://" + stale, "warn", "stale socket, no daemon listens"},
		{"unix://" + plain, "fail", "exists and is not a socket"},
		{"unix://" + filepath.Join(dir, "new", "docker.sock"), "ok", "no daemon yet"},
		{"unix:///" + strings.Repeat("d", 120) + "/docker.sock", "fail", "unix sockets allow 107 here"},
		{"tcp://127.0.0.1:1", "ok", "no daemon answers yet"},
		{"fd://", "fail", "fd://"},
	} {
		f := checkSocket("linux", c.host)
		if f.status.String() != c.status || !strings.Contains(f.detail, c.want) {
			t.Errorf("%s: %v %q, want %s %q", c.host, f.status, f.detail, c.status, c.want)
		}
	}
	if f := checkSocket("darwin", "unix:///"+strings.Repeat("d", 100)+"/docker.sock"); f.status != statusFail || !strings.Contains(f.detail, "allow 103") {
		t.Errorf("darwin socket path limit: %v %q", f.status, f.detail)
	}
}

func TestDoctorDataRoot(t *testing.T) {
	dir := t.TempDir()
	env := doctorEnv{options: options{dataRoot: dir}}
	if f := checkDataRoot(env); f.status != statusOK || strings.Contains(f.detail, "running") {
		t.Errorf("idle: %v %q", f.status, f.detail)
	}
	unlock, err := lockDataRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if f := checkDataRoot(env); f.status != statusOK || !strings.Contains(f.detail, "in use by a running pierd") {
		t.Errorf("locked: %v %q", f.status, f.detail)
	}
	unlock()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	if f := checkDataRoot(doctorEnv{options: options{dataRoot: file}}); f.status != statusFail {
		t.Errorf("a file as data root: %v %q", f.status, f.detail)
	}
}

func TestDoctorPublishedPortsInsideAContainer(t *testing.T) {
	cases := []struct {
		local  bool
		err    error
		root   bool
		status string
		want   string
	}{
		{local: true, status: "ok", want: "bridge gateway 172.17.0.1, which is on this host"},
		{root: true, status: "ok", want: "pierd puts it on pier0 when it starts"},
		{status: "warn", want: "only root can put there"},
		{err: errors.New("netlink: boom"), status: "warn", want: "cannot tell whether it is on this host: netlink: boom"},
	}
	for _, c := range cases {
		env := linuxEnv(t)
		env.ports = portsEnv{
			inContainer:  func() bool { return true },
			gatewayLocal: func() (bool, error) { return c.local, c.err },
			root:         func() bool { return c.root },
		}
		out, _ := doctor(env)
		line(t, out, c.status, "published ports", c.want)
	}
}

func TestDoctorVMTemplates(t *testing.T) {
	env := linuxEnv(t)
	dir := filepath.Join(templatesDir(env.dataRoot), "abc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := `{"key":"abc","created":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `"}`
	if err := os.WriteFile(filepath.Join(dir, "template.json"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := doctor(env)
	line(t, out, "ok", "vm templates", "1 template ready")
	line(t, out, "ok", "vm templates", "newest made 1m")
	line(t, out, "ok", "vm templates", "containers without bind mounts or volumes start as clones")
	// A guest with the 9p modules: containers with shares are cloned too,
	// unless --vm-shares virtiofs.
	mods := filepath.Join(env.guestDir, "modules", "6.1.0-test")
	dep := "kernel/fs/fuse.ko:\nextra/9pnet.ko:\nextra/9pnet_virtio.ko: extra/9pnet.ko\nextra/9p.ko: extra/9pnet.ko\n"
	for _, f := range []string{"extra/9pnet.ko", "extra/9pnet_virtio.ko", "extra/9p.ko"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(mods, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mods, f), []byte("ko"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mods, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ = doctor(env)
	line(t, out, "ok", "vm templates", "with bind mounts or volumes: up to 4, served over 9p")
	line(t, out, "ok", "guest assets", "shares over 9p or virtio-fs")
	env.vmShares = "virtiofs"
	out, _ = doctor(env)
	line(t, out, "ok", "vm templates", "containers without bind mounts or volumes start as clones")
	env.vmTemplates = "off"
	out, _ = doctor(env)
	line(t, out, "ok", "vm templates", "off (--vm-templates off)")
}

package binfmt

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// realDir mounts binfmt_misc for the test when it is not mounted, and
// unmounts it again afterwards, or skips saying why it cannot.
func realDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("registering a binfmt_misc rule needs root")
	}
	if mounted(Dir) {
		return Dir
	}
	if err := EnsureMounted(Dir); err != nil {
		t.Skipf("binfmt_misc cannot be mounted here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(Dir, 0); err != nil {
			t.Errorf("unmount %s: %v", Dir, err)
		}
	})
	if !mounted(Dir) {
		t.Fatalf("EnsureMounted(%s) returned but there is no register file", Dir)
	}
	return Dir
}

// foreignProgram cross-compiles a program printing its argv as JSON for
// the architecture the host cannot run natively, and finds its emulator.
func foreignProgram(t *testing.T) (arch, prog, emulator string) {
	t.Helper()
	switch runtime.GOARCH {
	case "amd64":
		arch, emulator = "arm64", "qemu-aarch64-static"
	case "arm64":
		arch, emulator = "amd64", "qemu-x86_64-static"
	default:
		t.Skipf("no foreign architecture for %s", runtime.GOARCH)
	}
	emulator, err := exec.LookPath(emulator)
	if err != nil {
		t.Skipf("%v (install qemu-user-static)", err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build a %s program: %v", arch, err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module argv\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte(`package main

import (
	"encoding/json"
	"os"
)

func main() { json.NewEncoder(os.Stdout).Encode(os.Args) }
`), 0o644)
	prog = filepath.Join(t.TempDir(), "argv")
	build := exec.Command(goCmd, "build", "-o", prog, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the %s program: %v\n%s", arch, err, out)
	}
	return arch, prog, emulator
}

// TestRegisterRealArgv0 registers throwaway rules with the host kernel and
// shows what argv[0] a foreign program sees through qemu-user, with and
// without the P flag.
func TestRegisterRealArgv0(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program and changes the kernel's binfmt_misc rules")
	}
	dir := realDir(t)
	arch, prog, emulator := foreignProgram(t)
	probe, _ := ForArch("probe", arch, emulator, "")
	if other := existingRuleFor(t, dir, probe.Magic); other != "" {
		t.Skipf("the host already has rule %q for %s binaries, which would shadow ours", other, arch)
	}
	cases := []struct {
		flags     string
		wantArgv0 string
	}{
		{"F", prog},                   // legacy: argv[0] becomes the path
		{FlagsQEMU, "called-by-name"}, // P: the name it was called by
	}
	for i, tc := range cases {
		name := fmt.Sprintf("pier-test-%d-%d", os.Getpid(), i)
		r, err := ForArch(name, arch, emulator, tc.flags)
		if err != nil {
			t.Fatal(err)
		}
		if err := Register(dir, r); err != nil {
			t.Fatalf("register %s: %v", r.RegisterLine(), err)
		}
		entry := readFile(t, filepath.Join(dir, name))
		// Registering again is EEXIST in the kernel: already registered.
		if err := Register(dir, r); err != nil {
			t.Errorf("second register: %v", err)
		}
		cmd := &exec.Cmd{Path: prog, Args: []string{"called-by-name", "one"}}
		out, runErr := cmd.Output()
		if err := Unregister(dir, name); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("rule %s is still registered", name)
		}
		if !strings.Contains(entry, "enabled") || !strings.Contains(entry, "interpreter "+emulator) {
			t.Errorf("%s: entry reads %q", tc.flags, entry)
		}
		if runErr != nil {
			t.Fatalf("flags %s: run the %s program: %v", tc.flags, arch, runErr)
		}
		var argv []string
		if err := json.Unmarshal(out, &argv); err != nil {
			t.Fatalf("flags %s: output %q: %v", tc.flags, out, err)
		}
		if len(argv) != 2 || argv[0] != tc.wantArgv0 || argv[1] != "one" {
			t.Errorf("flags %s: the program saw argv %q, want [%q \"one\"]", tc.flags, argv, tc.wantArgv0)
		}
	}
}

// existingRuleFor names an enabled rule in dir whose magic is magic.
func existingRuleFor(t *testing.T, dir string, magic []byte) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "register" || e.Name() == "status" {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if strings.Contains(string(b), "magic "+hex.EncodeToString(magic)) {
			return e.Name()
		}
	}
	return ""
}

// TestRegisterRealEEXIST shows on the host kernel that writing a rule whose
// name is taken fails with EEXIST, and that Register's write treats it as
// registered. The rule's magic matches no real file.
func TestRegisterRealEEXIST(t *testing.T) {
	dir := realDir(t)
	name := fmt.Sprintf("pier-test-eexist-%d", os.Getpid())
	r := Rule{Name: name, Magic: []byte("pier-eexist-test\x00"), Interpreter: "/bin/sh", Flags: "F"}
	if err := Register(dir, r); err != nil {
		t.Fatalf("register %s: %v", r.RegisterLine(), err)
	}
	defer func() {
		if err := Unregister(dir, name); err != nil {
			t.Error(err)
		}
	}()
	// The kernel's answer to a second write of the same name.
	f, err := os.OpenFile(filepath.Join(dir, "register"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte(r.RegisterLine())); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("second raw write: %v, want EEXIST", err)
	}
	// The write Register does after its look for the entry file.
	if err := writeRule(f, r); err != nil {
		t.Errorf("writeRule of a registered rule: %v", err)
	}
	if entry := readFile(t, filepath.Join(dir, name)); !strings.Contains(entry, "enabled") || !strings.Contains(entry, "interpreter /bin/sh") {
		t.Errorf("entry reads %q", entry)
	}
}

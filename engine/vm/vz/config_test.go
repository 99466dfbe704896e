package vz

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// testSpec returns a valid Spec whose files exist, in a fresh StateDir.
func testSpec(t *testing.T) vm.Spec {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"Image", "initrd", "root.ext4"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return vm.Spec{
		ID:        "c1",
		StateDir:  filepath.Join(dir, "state"),
		Kernel:    filepath.Join(dir, "Image"),
		Initramfs: filepath.Join(dir, "initrd"),
		Disks:     []vm.Disk{{Path: filepath.Join(dir, "root.ext4"), ReadOnly: true, Serial: "rootfs"}},
		Shares:    []vm.Share{{Tag: "data", HostPath: dir}},
	}
}

func TestConfigRoundTrip(t *testing.T) {
	spec, err := normalize(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	in := shimConfig{Spec: spec, RosettaCache: "rosettad"}
	if err := writeConfig(spec.StateDir, in); err != nil {
		t.Fatal(err)
	}
	out, err := readConfig(spec.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	in.Version = configVersion
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in %+v\nout %+v", in, out)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(spec.StateDir)
	if len(entries) != 1 {
		t.Fatalf("state dir holds %v", entries)
	}
}

func TestReadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := readConfig(dir); !errdefs.IsNotFound(err) {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, specFileName), []byte(`{"version": 99}`), 0o644)
	if _, err := readConfig(dir); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("wrong version: %v", err)
	}
	os.WriteFile(filepath.Join(dir, specFileName), []byte(`{`), 0o644)
	if _, err := readConfig(dir); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad json: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	spec, err := normalize(testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if spec.MemoryMiB != vm.DefaultMemoryMiB || spec.CPUs != vm.DefaultCPUs || spec.ConsoleLog != filepath.Join(spec.StateDir, "console.log") {
		t.Fatalf("defaults not filled: %+v", spec)
	}
	bad := map[string]func(*vm.Spec){
		"needs an ID":          func(s *vm.Spec) { s.ID = "" },
		"too small":            func(s *vm.Spec) { s.MemoryMiB = 16 },
		"does not exist":       func(s *vm.Spec) { s.Kernel += ".missing" },
		"longer than 20 bytes": func(s *vm.Spec) { s.Disks[0].Serial = strings.Repeat("s", 21) },
		"has no tag":           func(s *vm.Spec) { s.Shares[0].Tag = "" },
		"used twice":           func(s *vm.Spec) { s.Shares = append(s.Shares, s.Shares[0]) },
		"is not a directory":   func(s *vm.Spec) { s.Shares[0].HostPath = s.Kernel },
		"must not name":        func(s *vm.Spec) { s.Shares[0].Rosetta = true },
	}
	for want, mutate := range bad {
		s := testSpec(t)
		mutate(&s)
		if _, err := normalize(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	s := testSpec(t)
	s.Shares = []vm.Share{{Tag: "rosetta", Rosetta: true}}
	if _, err := normalize(s); err != nil {
		t.Errorf("a Rosetta share needs no host path: %v", err)
	}
}

func TestKernelCmdline(t *testing.T) {
	got := kernelCmdline(vm.Spec{Cmdline: "  pier.id=c1 "})
	if !strings.HasPrefix(got, "console=hvc0 ") || !strings.HasSuffix(got, " pier.id=c1") || !strings.Contains(got, " pier.agent=vsock ") {
		t.Fatalf("cmdline %q", got)
	}
}

func TestMacOSAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"13.0": true, "14.4.1": true, "12.7.5": false, "26": true, "": false, "x.1": false} {
		if got := macOSAtLeast(v, 13); got != want {
			t.Errorf("%q: got %v", v, got)
		}
	}
}

func TestAttachNICsAsksForDatagramsAndNumbersFds(t *testing.T) {
	var asked []bool
	attach := func(datagram bool) (*os.File, error) {
		asked = append(asked, datagram)
		return os.Open(os.DevNull)
	}
	spec := vm.Spec{ID: "v", NICs: []vm.NIC{{MAC: "02:42:ac:11:00:02", Attach: attach}, {MAC: "02:42:ac:12:00:02", Attach: attach}}}
	files, nics, err := attachNICs(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(files)
	if len(files) != 2 || len(asked) != 2 || !asked[0] || !asked[1] {
		t.Fatalf("files %d, asked %v", len(files), asked)
	}
	if nics[0].FD != 3 || nics[1].FD != 4 || nics[1].MAC != "02:42:ac:12:00:02" {
		t.Fatalf("nics %+v", nics)
	}
	// The spec still serialises (Attach is not part of spec.json).
	dir := t.TempDir()
	if err := writeConfig(dir, shimConfig{Spec: spec, NICs: nics}); err != nil {
		t.Fatal(err)
	}
	got, err := readConfig(dir)
	if err != nil || len(got.NICs) != 2 || got.Spec.NICs[0].MAC != "02:42:ac:11:00:02" {
		t.Fatalf("readConfig: %+v, %v", got.NICs, err)
	}
	if _, _, err := attachNICs(vm.Spec{ID: "v", NICs: []vm.NIC{{MAC: "bad", Attach: attach}}}); err == nil {
		t.Fatal("a bad MAC was accepted")
	}
}

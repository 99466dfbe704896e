package vm

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func specWithFiles(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"vmlinux", "initrd", "root.img"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Spec{
		ID: "vm1", StateDir: dir,
		Kernel: filepath.Join(dir, "vmlinux"), Initramfs: filepath.Join(dir, "initrd"),
		Disks: []Disk{{Path: filepath.Join(dir, "root.img"), ReadOnly: true}},
	}
}

func TestNormalizeFillsDefaults(t *testing.T) {
	spec := specWithFiles(t)
	got, err := Normalize(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryMiB != DefaultMemoryMiB || got.CPUs != DefaultCPUs {
		t.Fatalf("defaults: %d MiB %d CPUs", got.MemoryMiB, got.CPUs)
	}
	if got.ConsoleLog != filepath.Join(spec.StateDir, "console.log") {
		t.Fatalf("console log %q", got.ConsoleLog)
	}
	got.Disks[0].Serial = "changed"
	if spec.Disks[0].Serial != "" {
		t.Fatal("Normalize shares the caller's Disks slice")
	}
}

func TestNormalizeRefusesBadSpecs(t *testing.T) {
	shareDir := t.TempDir()
	cases := map[string]struct {
		edit     func(*Spec)
		notFound bool
	}{
		"no id":           {edit: func(s *Spec) { s.ID = "" }},
		"tiny memory":     {edit: func(s *Spec) { s.MemoryMiB = 16 }},
		"missing kernel":  {edit: func(s *Spec) { s.Kernel += ".gone" }, notFound: true},
		"missing disk":    {edit: func(s *Spec) { s.Disks[0].Path += ".gone" }, notFound: true},
		"share no tag":    {edit: func(s *Spec) { s.Shares = []Share{{HostPath: shareDir}} }},
		"share twice":     {edit: func(s *Spec) { s.Shares = []Share{{Tag: "a", HostPath: shareDir}, {Tag: "a", HostPath: shareDir}} }},
		"share not a dir": {edit: func(s *Spec) { s.Shares = []Share{{Tag: "a", HostPath: s.Kernel}} }},
		"nic bad mac":     {edit: func(s *Spec) { s.NICs = []NIC{{MAC: "nope"}} }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			spec := specWithFiles(t)
			c.edit(&spec)
			_, err := Normalize(spec)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.notFound != errdefs.IsNotFound(err) || (!c.notFound && !errdefs.IsInvalidParameter(err)) {
				t.Fatalf("wrong class: %v", err)
			}
		})
	}
}

//go:build linux

package binfmt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegisterLinePinsTheBytes(t *testing.T) {
	const mask = `\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`
	cases := []struct {
		arch, flags, want string
	}{
		{"amd64", FlagsRosetta, `:rosetta:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00:` + mask + `:/mnt/emul/rosetta:CF`},
		{"arm64", FlagsQEMU, `:rosetta:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:` + mask + `:/mnt/emul/rosetta:FP`},
		{"arm64", "P", `:rosetta:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:` + mask + `:/mnt/emul/rosetta:PF`},
	}
	for _, tc := range cases {
		r, err := ForArch("rosetta", tc.arch, "/mnt/emul/rosetta", tc.flags)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.RegisterLine(); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.arch, tc.flags, got, tc.want)
		}
	}
	if _, err := ForArch("x", "riscv64", "/x", ""); err == nil {
		t.Fatal("riscv64 rule built")
	}
}

func TestMaskMatchesExecAndPIE(t *testing.T) {
	r, _ := ForArch("q", "arm64", "/q", "")
	for _, etype := range []byte{2, 3} {
		hdr := append([]byte(nil), r.Magic...)
		hdr[16] = etype
		for i := range hdr {
			if hdr[i]&r.Mask[i] != r.Magic[i]&r.Mask[i] {
				t.Fatalf("e_type %d does not match at byte %d", etype, i)
			}
		}
	}
	hdr := append([]byte(nil), r.Magic...)
	hdr[18] = 0x3e // x86-64 machine must not match the arm64 rule
	match := true
	for i := range hdr {
		if hdr[i]&r.Mask[i] != r.Magic[i]&r.Mask[i] {
			match = false
		}
	}
	if match {
		t.Fatal("the arm64 rule matches an x86-64 binary")
	}
}

func TestRegisterWritesOnceAndTreatsExistingAsRegistered(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "register")
	os.WriteFile(reg, nil, 0o200)
	r, _ := ForArch("qemu-aarch64", "arm64", "/emul/qemu-aarch64-static", FlagsQEMU)
	if err := Register(dir, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(reg)
	if string(b) != r.RegisterLine() {
		t.Fatalf("register got %q", b)
	}
	// An existing entry (EEXIST in the kernel) is not written again.
	os.WriteFile(reg, nil, 0o200)
	os.WriteFile(filepath.Join(dir, "qemu-aarch64"), []byte("enabled\n"), 0o644)
	if err := Register(dir, r); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(reg); len(b) != 0 {
		t.Fatalf("registered twice: %q", b)
	}
}

func TestSystemdDropIn(t *testing.T) {
	r, _ := ForArch("qemu-aarch64", "arm64", "/pier/emul/qemu-aarch64-static", FlagsQEMU)
	path, content := SystemdDropIn(r, "/opt/pier/emul/qemu-aarch64-static")
	if path != "/usr/lib/binfmt.d/qemu-aarch64.conf" {
		t.Fatalf("path %s", path)
	}
	if !strings.HasPrefix(content, ":qemu-aarch64:M::") || !strings.HasSuffix(content, ":/opt/pier/emul/qemu-aarch64-static:FP\n") {
		t.Fatalf("content %q", content)
	}
}

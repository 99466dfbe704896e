//go:build linux

// Package binfmt builds and registers the binfmt_misc rules that let the
// guest kernel run binaries of another architecture through a user-mode
// emulator: qemu-user on Linux hosts, Rosetta on Apple silicon. The rule is
// one pure function of (name, architecture, interpreter, flags).
package binfmt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pier-vm/pier/guest/proto"
)

// ELF header prefixes (e_ident + e_type + e_machine) per architecture.
// e_type is matched under a mask of 0xfe, so ET_EXEC (2) and ET_DYN (3,
// PIE) binaries both match.
var (
	magicAMD64 = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00")
	magicARM64 = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00")
	elfMask    = []byte("\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff")
)

// Flags for rules; see proto.BinfmtFlagsQEMU and proto.BinfmtFlagsRosetta
// for why each is chosen.
const (
	FlagsQEMU    = proto.BinfmtFlagsQEMU
	FlagsRosetta = proto.BinfmtFlagsRosetta
)

// Rule is one binfmt_misc rule matching ELF binaries of an architecture.
type Rule struct {
	Name        string
	Magic       []byte
	Mask        []byte
	Interpreter string
	Flags       string
}

// ForArch returns the rule running arch's ("amd64" or "arm64") ELF
// binaries with interpreter. F is always among the flags.
func ForArch(name, arch, interpreter, flags string) (Rule, error) {
	var magic []byte
	switch arch {
	case "amd64":
		magic = magicAMD64
	case "arm64":
		magic = magicARM64
	default:
		return Rule{}, fmt.Errorf("binfmt: no rule for architecture %q", arch)
	}
	if !strings.Contains(flags, "F") {
		flags += "F"
	}
	return Rule{Name: name, Magic: magic, Mask: elfMask, Interpreter: interpreter, Flags: flags}, nil
}

// escape writes every byte as \xHH, which binfmt_misc always accepts (it
// must escape at least NUL, ':' and '\').
func escape(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\x%02x", c)
	}
	return s.String()
}

// RegisterLine is the line to write to binfmt_misc's register file:
// :name:M::magic:mask:interpreter:flags
func (r Rule) RegisterLine() string {
	return fmt.Sprintf(":%s:M::%s:%s:%s:%s", r.Name, escape(r.Magic), escape(r.Mask), r.Interpreter, r.Flags)
}

// Dir is where binfmt_misc is mounted.
const Dir = "/proc/sys/fs/binfmt_misc"

// EnsureMounted mounts binfmt_misc on dir unless its register file exists.
func EnsureMounted(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "register")); err == nil {
		return nil
	}
	if err := syscall.Mount("binfmt_misc", dir, "binfmt_misc", 0, ""); err != nil {
		return fmt.Errorf("mount binfmt_misc on %s: %w", dir, err)
	}
	return nil
}

// Register registers r in the binfmt_misc directory dir. A rule of the same
// name that already exists counts as registered.
func Register(dir string, r Rule) error {
	if _, err := os.Stat(filepath.Join(dir, r.Name)); err == nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "register"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write([]byte(r.RegisterLine())); err != nil {
		if errors.Is(err, syscall.EEXIST) {
			return nil
		}
		return fmt.Errorf("register binfmt rule %s: %w", r.Name, err)
	}
	return nil
}

// SystemdDropIn is the binfmt.d file that makes systemd-binfmt, which
// flushes every rule at boot, register r again; interpreter is the
// emulator's stable path inside the container's root.
func SystemdDropIn(r Rule, interpreter string) (path, content string) {
	r.Interpreter = interpreter
	return "/usr/lib/binfmt.d/" + r.Name + ".conf", r.RegisterLine() + "\n"
}

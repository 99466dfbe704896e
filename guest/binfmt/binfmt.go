// Package binfmt builds and registers the binfmt_misc rules that let a guest
// kernel run binaries of another architecture through a user-mode emulator:
// qemu-user on Linux hosts, Rosetta on Apple silicon.
//
// The register line is one pure function of (name, architecture,
// interpreter, flags): ForArch(...).RegisterLine(). The rest of the package
// (mounting binfmt_misc, writing the line, the systemd binfmt.d drop-in) is
// guest-side plumbing around it. It imports only the standard library.
package binfmt

import (
	"errors"
	"fmt"
	"strings"
)

// Flags, chosen on purpose (see the kernel's admin-guide/binfmt-misc.rst):
//
//   - F (fix binary), always: the kernel opens the interpreter when the rule
//     is registered, so the rule keeps working after the guest init switches
//     into the container's root, where the emulator's share is not visible.
//   - P (preserve argv[0]), for qemu-user: the kernel passes the original
//     argv[0] as an extra argument and sets AT_FLAGS_PRESERVE_ARGV0 in the
//     auxiliary vector (kernel >= 5.12), which qemu-user reads and honours
//     (QEMU >= 6; Debian's qemu-user-static registers its own rule with
//     "OPF"). Without P a multi-call binary such as busybox, or any program
//     run with `exec -a name`, sees the full path instead of the name it was
//     called by. The test TestRegisterRealArgv0 shows both on a real kernel.
//   - C (credentials), for Rosetta only, as Apple documents: setuid binaries
//     run with their own credentials. It is not used for qemu-user (nor is
//     it by Debian), because it would run the emulator itself with raised
//     privileges on behalf of any setuid binary. C implies O.
//   - O (open binary) is not used: it only matters for binaries that are
//     executable but not readable, which container images do not ship.
const (
	FlagsQEMU    = "FP"
	FlagsRosetta = "CF"
)

// MaxLineLength is the longest line the kernel accepts on register.
const MaxLineLength = 1920

// maxMagic bounds the magic: the kernel matches it within the first
// BINPRM_BUF_SIZE bytes (128 before Linux 5.1, 256 since).
const maxMagic = 128

// ELF header prefixes: e_ident (16 bytes: "\x7fELF", ELFCLASS64, little
// endian, EV_CURRENT, OS ABI and padding), e_type (ET_EXEC = 2) and e_machine.
var (
	magicAMD64 = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00") // EM_X86_64 = 62
	magicARM64 = []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00") // EM_AARCH64 = 183
	// elfMask ignores the low bit of EI_DATA and EI_VERSION, the OS ABI, and
	// the low bit of e_type, so ET_EXEC (2) and ET_DYN (3, PIE) both match.
	elfMask = []byte("\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff")
)

// Rule is one binfmt_misc magic rule.
type Rule struct {
	// Name is the entry's file name under binfmt_misc.
	Name string
	// Magic and Mask are matched at offset 0 of the file; Mask has the
	// same length as Magic.
	Magic, Mask []byte
	// Interpreter is the absolute path of the emulator.
	Interpreter string
	// Flags are binfmt_misc flag letters (of "POCF").
	Flags string
}

// ForArch returns the rule that runs ELF binaries of arch ("amd64" or
// "arm64") with interpreter. F is added to flags when missing.
func ForArch(name, arch, interpreter, flags string) (Rule, error) {
	var magic []byte
	switch arch {
	case "amd64":
		magic = magicAMD64
	case "arm64":
		magic = magicARM64
	default:
		return Rule{}, fmt.Errorf("binfmt: no rule for architecture %q (want amd64 or arm64)", arch)
	}
	if !strings.Contains(flags, "F") {
		flags += "F"
	}
	r := Rule{Name: name, Magic: magic, Mask: elfMask, Interpreter: interpreter, Flags: flags}
	return r, r.Validate()
}

// Validate reports what the kernel would refuse in r (with EINVAL), or a
// field that cannot be written into the line at all.
func (r Rule) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case r.Name == "" || r.Name == "." || r.Name == "..":
		bad("invalid name %q", r.Name)
	case strings.ContainsAny(r.Name, "/:\x00\n"):
		bad("name %q contains '/', ':', NUL or a newline", r.Name)
	}
	if len(r.Magic) == 0 || len(r.Magic) > maxMagic {
		bad("magic is %d bytes, want 1 to %d", len(r.Magic), maxMagic)
	}
	if len(r.Mask) != 0 && len(r.Mask) != len(r.Magic) {
		bad("mask is %d bytes, magic %d", len(r.Mask), len(r.Magic))
	}
	if !strings.HasPrefix(r.Interpreter, "/") || strings.ContainsAny(r.Interpreter, ":\x00\n") {
		bad("interpreter %q is not an absolute path free of ':', NUL and newlines", r.Interpreter)
	}
	for _, c := range r.Flags {
		if !strings.ContainsRune("POCF", c) {
			bad("unknown flag %q", c)
		}
	}
	if n := len(r.RegisterLine()); n > MaxLineLength {
		bad("line is %d bytes, the kernel takes at most %d", n, MaxLineLength)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("binfmt rule %q: %w", r.Name, err)
	}
	return nil
}

// RegisterLine is the line to write to binfmt_misc's register file,
// ":name:M::magic:mask:interpreter:flags". Magic and mask are written with
// every byte as a \xHH escape: the kernel requires escapes for NUL (parsing
// halts at the first one), for the ':' delimiter and for '\', and accepts
// them for any byte, which keeps the line printable and unambiguous.
func (r Rule) RegisterLine() string {
	return ":" + r.Name + ":M::" + escape(r.Magic) + ":" + escape(r.Mask) + ":" + r.Interpreter + ":" + r.Flags
}

func escape(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 4*len(b))
	for _, c := range b {
		out = append(out, '\\', 'x', hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

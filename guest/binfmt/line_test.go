package binfmt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// kernelRule is a register line as the kernel reads it.
type kernelRule struct {
	name, typ, offset  string
	magic, mask        []byte
	interpreter, flags string
}

// parseLine reads a register line the way admin-guide/binfmt-misc.rst
// describes it: the first byte is the delimiter, fields are split on it,
// where a \xHH escape is one unit (so an escaped delimiter does not split),
// and magic and mask are unescaped. It fails where the kernel would
// (EINVAL): NUL in the line, a bad escape, a wrong number of fields.
func parseLine(line string) (kernelRule, error) {
	var k kernelRule
	if len(line) < 2 || strings.IndexByte(line, 0) >= 0 {
		return k, fmt.Errorf("empty line or a raw NUL")
	}
	del := line[0]
	var fields []string
	cur := []byte{}
	for i := 1; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line) && line[i+1] == 'x':
			if i+3 >= len(line) || !isHex(line[i+2]) || !isHex(line[i+3]) {
				return k, fmt.Errorf("bad escape at %d", i)
			}
			cur = append(cur, line[i:i+4]...)
			i += 3
		case c == del:
			fields = append(fields, string(cur))
			cur = []byte{}
		default:
			cur = append(cur, c)
		}
	}
	fields = append(fields, string(cur))
	if len(fields) != 7 {
		return k, fmt.Errorf("%d fields, want 7", len(fields))
	}
	var err error
	k.name, k.typ, k.offset, k.interpreter, k.flags = fields[0], fields[1], fields[2], fields[5], fields[6]
	if k.magic, err = unescape(fields[3]); err != nil {
		return k, err
	}
	k.mask, err = unescape(fields[4])
	return k, err
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

func unescape(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			b, err := hex.DecodeString(s[i+2 : i+4])
			if err != nil {
				return nil, err
			}
			out = append(out, b[0])
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out, nil
}

// elfHeader builds the first 20 bytes of an ELF file from the field values
// of the ELF specification.
func elfHeader(class, data, version byte, etype, machine uint16) []byte {
	h := []byte{0x7f, 'E', 'L', 'F', class, data, version, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	h = binary.LittleEndian.AppendUint16(h, etype)
	return binary.LittleEndian.AppendUint16(h, machine)
}

const (
	elfClass64  = 2
	elfData2LSB = 1
	evCurrent   = 1
	etRel       = 1
	etExec      = 2
	etDyn       = 3
	etCore      = 4
	emX86_64    = 62
	emAArch64   = 183
)

// The mask as given in pier's design (and Apple's Rosetta documentation).
var wantMask = []byte("\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff")

func TestRegisterLine(t *testing.T) {
	cases := []struct {
		name, arch, interpreter, flags string
		machine                        uint16
		wantFlags                      string
	}{
		{"qemu-aarch64", "arm64", "/pier/emul/qemu-aarch64-static", FlagsQEMU, emAArch64, "FP"},
		{"qemu-x86_64", "amd64", "/pier/emul/qemu-x86_64-static", FlagsQEMU, emX86_64, "FP"},
		{"rosetta", "amd64", "/pier/emul/rosetta", FlagsRosetta, emX86_64, "CF"},
		{"bare", "arm64", "/x", "", emAArch64, "F"},
		{"p-only", "arm64", "/x", "P", emAArch64, "PF"},
	}
	for _, tc := range cases {
		r, err := ForArch(tc.name, tc.arch, tc.interpreter, tc.flags)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		line := r.RegisterLine()
		k, err := parseLine(line)
		if err != nil {
			t.Fatalf("%s: the kernel would refuse %q: %v", tc.name, line, err)
		}
		want := kernelRule{
			name: tc.name, typ: "M", offset: "",
			magic:       elfHeader(elfClass64, elfData2LSB, evCurrent, etExec, tc.machine),
			mask:        wantMask,
			interpreter: tc.interpreter, flags: tc.wantFlags,
		}
		if fmt.Sprint(k) != fmt.Sprint(want) {
			t.Errorf("%s: %q reads as\n %+v\nwant\n %+v", tc.name, line, k, want)
		}
		for _, c := range []byte(line) {
			if c < 0x20 || c > 0x7e {
				t.Errorf("%s: line has the unprintable byte %#x", tc.name, c)
			}
		}
	}
}

// The magic and mask fields are spelled exactly as Debian's qemu-user-static
// spells its magic (/usr/share/binfmts/qemu-aarch64): every byte escaped.
func TestRegisterLineSpelling(t *testing.T) {
	r, err := ForArch("qemu-aarch64", "arm64", "/e/qemu-aarch64-static", FlagsQEMU)
	if err != nil {
		t.Fatal(err)
	}
	const debianMagic = `\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`
	const mask = `\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`
	want := ":qemu-aarch64:M::" + debianMagic + ":" + mask + ":/e/qemu-aarch64-static:FP"
	if got := r.RegisterLine(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// The bytes that must be escaped survive the round trip through the
// kernel's parsing rules.
func TestRegisterLineEscapesDelimiterNULAndBackslash(t *testing.T) {
	magic := []byte{':', 0, '\\', 'x', '4', '1', '\n', 0xff}
	r := Rule{Name: "odd", Magic: magic, Mask: bytes.Repeat([]byte{0xff}, len(magic)), Interpreter: "/i", Flags: "F"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	k, err := parseLine(r.RegisterLine())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k.magic, magic) || k.interpreter != "/i" || k.flags != "F" {
		t.Fatalf("%q reads back as %+v", r.RegisterLine(), k)
	}
}

func matches(r Rule, header []byte) bool {
	if len(header) < len(r.Magic) {
		return false
	}
	for i := range r.Magic {
		if header[i]&r.Mask[i] != r.Magic[i]&r.Mask[i] {
			return false
		}
	}
	return true
}

func TestMaskMatches(t *testing.T) {
	amd64, _ := ForArch("a", "amd64", "/a", "")
	arm64, _ := ForArch("b", "arm64", "/b", "")
	cases := []struct {
		what         string
		header       []byte
		amd64, arm64 bool
	}{
		{"x86-64 executable", elfHeader(elfClass64, elfData2LSB, evCurrent, etExec, emX86_64), true, false},
		{"x86-64 PIE", elfHeader(elfClass64, elfData2LSB, evCurrent, etDyn, emX86_64), true, false},
		{"aarch64 executable", elfHeader(elfClass64, elfData2LSB, evCurrent, etExec, emAArch64), false, true},
		{"aarch64 PIE", elfHeader(elfClass64, elfData2LSB, evCurrent, etDyn, emAArch64), false, true},
		{"aarch64 object file", elfHeader(elfClass64, elfData2LSB, evCurrent, etRel, emAArch64), false, false},
		{"aarch64 core dump", elfHeader(elfClass64, elfData2LSB, evCurrent, etCore, emAArch64), false, false},
		{"32-bit ARM", elfHeader(1, elfData2LSB, evCurrent, etExec, 40), false, false},
		{"big-endian aarch64", elfHeader(elfClass64, 2, evCurrent, etExec, emAArch64<<8), false, false},
		{"ELF32 with x86-64 machine", elfHeader(1, elfData2LSB, evCurrent, etExec, emX86_64), false, false},
		{"shell script", []byte("#!/bin/sh\necho hello world\n"), false, false},
		{"short file", []byte("\x7fELF"), false, false},
	}
	for _, tc := range cases {
		if got := matches(amd64, tc.header); got != tc.amd64 {
			t.Errorf("%s: amd64 rule matches = %v", tc.what, got)
		}
		if got := matches(arm64, tc.header); got != tc.arm64 {
			t.Errorf("%s: arm64 rule matches = %v", tc.what, got)
		}
	}
}

func TestForArchRejects(t *testing.T) {
	cases := []struct{ name, arch, interpreter, flags string }{
		{"x", "riscv64", "/x", ""},
		{"x", "", "/x", ""},
		{"x", "x86_64", "/x", ""}, // callers pass GOARCH names
		{"", "arm64", "/x", ""},
		{"..", "arm64", "/x", ""},
		{"a/b", "arm64", "/x", ""},
		{"a:b", "arm64", "/x", ""},
		{"x", "arm64", "", ""},
		{"x", "arm64", "relative/qemu", ""},
		{"x", "arm64", "/with:colon", ""},
		{"x", "arm64", "/with\nnewline", ""},
		{"x", "arm64", "/x", "Z"},
		{"x", "arm64", "/" + strings.Repeat("a", MaxLineLength), ""},
	}
	for _, tc := range cases {
		if r, err := ForArch(tc.name, tc.arch, tc.interpreter, tc.flags); err == nil {
			t.Errorf("ForArch(%q, %q, %q, %q) = %q, want an error", tc.name, tc.arch, tc.interpreter, tc.flags, r.RegisterLine())
		}
	}
	if err := (Rule{Name: "m", Magic: []byte{1, 2}, Mask: []byte{1}, Interpreter: "/x"}).Validate(); err == nil {
		t.Error("a mask shorter than the magic is accepted")
	}
	if err := (Rule{Name: "m", Magic: make([]byte, maxMagic+1), Interpreter: "/x"}).Validate(); err == nil {
		t.Error("an over-long magic is accepted")
	}
}

func TestSystemdDropIn(t *testing.T) {
	r, err := ForArch("qemu-aarch64", "arm64", "/pier/emul/qemu-aarch64-static", FlagsQEMU)
	if err != nil {
		t.Fatal(err)
	}
	path, content := SystemdDropIn(r, SystemdEmulatorDir+"/qemu-aarch64-static")
	if path != "/usr/lib/binfmt.d/pier-qemu-aarch64.conf" {
		t.Errorf("path %s", path)
	}
	const want = "# Written by pier: run aarch64 binaries with /opt/pier/emul/qemu-aarch64-static.\n" +
		`:qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00` +
		`:\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff` +
		":/opt/pier/emul/qemu-aarch64-static:FP\n"
	if content != want {
		t.Errorf("content\n%s\nwant\n%s", content, want)
	}
	// binfmt.d(5): one rule a line; empty lines and lines starting with
	// '#' or ';' are ignored. The one rule is what the kernel would read.
	var rules []kernelRule
	for _, l := range strings.Split(content, "\n") {
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, err := parseLine(l)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		rules = append(rules, k)
	}
	if len(rules) != 1 {
		t.Fatalf("%d rules in %q, want 1", len(rules), content)
	}
	k := rules[0]
	if k.name != "qemu-aarch64" || k.interpreter != "/opt/pier/emul/qemu-aarch64-static" || k.flags != "FP" ||
		!bytes.Equal(k.magic, elfHeader(elfClass64, elfData2LSB, evCurrent, etExec, emAArch64)) || !bytes.Equal(k.mask, wantMask) {
		t.Errorf("drop-in rule %+v", k)
	}
	if r.Interpreter != "/pier/emul/qemu-aarch64-static" {
		t.Errorf("SystemdDropIn changed its argument: %s", r.Interpreter)
	}
}

// Rosetta's drop-in (vz) keeps its C flag and names the x86-64 magic.
func TestSystemdDropInRosetta(t *testing.T) {
	r, err := ForArch("rosetta", "amd64", "/pier/emul/rosetta", FlagsRosetta)
	if err != nil {
		t.Fatal(err)
	}
	path, content := SystemdDropIn(r, "/opt/pier/emul/rosetta")
	const want = "# Written by pier: run x86-64 binaries with /opt/pier/emul/rosetta.\n" +
		`:rosetta:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00` +
		`:\xff\xff\xff\xff\xff\xfe\xfe\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff` +
		":/opt/pier/emul/rosetta:CF\n"
	if path != "/usr/lib/binfmt.d/pier-rosetta.conf" || content != want {
		t.Errorf("got %s:\n%s\nwant /usr/lib/binfmt.d/pier-rosetta.conf:\n%s", path, content, want)
	}
}

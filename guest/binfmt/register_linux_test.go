package binfmt

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeDir stands in for a mounted binfmt_misc: a register file and status.
func fakeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"register", "status"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegister(t *testing.T) {
	rule, err := ForArch("qemu-aarch64", "arm64", "/pier/emul/qemu-aarch64-static", FlagsQEMU)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		existing  bool // an entry of the rule's name is already there
		rule      Rule
		wantErr   bool
		wantWrite string
	}{
		{"new rule", false, rule, false, rule.RegisterLine()},
		{"already registered", true, rule, false, ""},
		{"invalid rule", false, Rule{Name: "x/y", Magic: []byte{1}, Interpreter: "/x"}, true, ""},
	}
	for _, tc := range cases {
		dir := fakeDir(t)
		if tc.existing {
			os.WriteFile(filepath.Join(dir, tc.rule.Name), []byte("enabled\n"), 0o600)
		}
		err := Register(dir, tc.rule)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.name, err, tc.wantErr)
		}
		if got := readFile(t, filepath.Join(dir, "register")); got != tc.wantWrite {
			t.Errorf("%s: register got %q, want %q", tc.name, got, tc.wantWrite)
		}
	}
	if err := Register(t.TempDir(), rule); err == nil {
		t.Error("registering without binfmt_misc mounted succeeded")
	}
}

func TestUnregister(t *testing.T) {
	dir := fakeDir(t)
	entry := filepath.Join(dir, "qemu-aarch64")
	os.WriteFile(entry, nil, 0o600) // the kernel's entry takes writes, not truncation
	if err := Unregister(dir, "qemu-aarch64"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, entry); got != "-1" {
		t.Errorf("entry got %q, want -1", got)
	}
	if err := Unregister(dir, "absent"); err != nil {
		t.Errorf("unregistering an absent rule: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "absent")); err == nil {
		t.Error("unregistering an absent rule created its entry")
	}
}

func TestEnsureMountedLeavesAMountedDirAlone(t *testing.T) {
	dir := fakeDir(t)
	if err := EnsureMounted(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("EnsureMounted changed %s: %v", dir, entries)
	}
}

// writeFunc is an io.Writer that answers like the kernel's register file.
type writeFunc func([]byte) (int, error)

func (f writeFunc) Write(b []byte) (int, error) { return f(b) }

// The kernel answers EEXIST when a rule of the same name exists (the entry
// file appeared after Register looked): that counts as registered. Other
// refusals are errors that name the rule.
func TestWriteRuleEEXIST(t *testing.T) {
	rule, err := ForArch("qemu-aarch64", "arm64", "/pier/emul/qemu-aarch64-static", FlagsQEMU)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		answer  error
		wantErr bool
	}{
		{"accepted", nil, false},
		{"EEXIST", &os.PathError{Op: "write", Path: "register", Err: syscall.EEXIST}, false},
		{"bare EEXIST", syscall.EEXIST, false},
		{"EINVAL", &os.PathError{Op: "write", Path: "register", Err: syscall.EINVAL}, true},
		{"ENOENT", &os.PathError{Op: "write", Path: "register", Err: syscall.ENOENT}, true},
	}
	for _, tc := range cases {
		var writes []string
		err := writeRule(writeFunc(func(b []byte) (int, error) {
			writes = append(writes, string(b))
			if tc.answer != nil {
				return 0, tc.answer
			}
			return len(b), nil
		}), rule)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "qemu-aarch64") {
			t.Errorf("%s: error %q does not name the rule", tc.name, err)
		}
		if len(writes) != 1 || writes[0] != rule.RegisterLine() {
			t.Errorf("%s: writes %q, want the one line %q", tc.name, writes, rule.RegisterLine())
		}
	}
}

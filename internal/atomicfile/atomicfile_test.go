package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSweepTempsRemovesOnlyThisFilesTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "networks.json")
	if err := Write(path, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".tmp-networks.json123", ".tmp-other.json456", "keep"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	SweepTemps(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".tmp-other.json456", "keep", "networks.json"}
	if len(got) != len(want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("left %v, want %v", got, want)
		}
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "[]" {
		t.Fatalf("the file itself: %q, %v", b, err)
	}
}

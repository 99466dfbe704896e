package container

import (
	"os"
	"path/filepath"
	"testing"
)

// A Save cut short by a killed daemon leaves a temp file beside the
// config; the next load removes it and still reads the config.
func TestLoadAllRemovesHalfWrittenSaves(t *testing.T) {
	s, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if err := s.Save(Container{ID: id, Name: "/c"}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(s.Dir(id), ".tmp-"+configFile+"123") // atomicwriter's temp name
	if err := os.WriteFile(stale, []byte(`{"ID":`), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, errs := s.LoadAll()
	if len(errs) != 0 || len(loaded) != 1 || loaded[0].ID != id {
		t.Fatalf("loaded %v, errors %v", loaded, errs)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("half-written save still there: %v", err)
	}
}

package build

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A cache disk a killed pierd was still writing is removed when the next
// one starts; the finished cache disk is kept.
func TestRecoverRemovesAnUnfinishedCacheDisk(t *testing.T) {
	dir := t.TempDir()
	torn := filepath.Join(dir, ".tmp-"+cacheDiskName+"123456")
	kept := filepath.Join(dir, cacheDiskName)
	for _, f := range []string{torn, kept} {
		if err := os.WriteFile(f, []byte("ext4"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	New(Config{Dir: dir}).Recover(context.Background())
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("unfinished cache disk still there: %v", err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the cache disk went: %v", err)
	}
}

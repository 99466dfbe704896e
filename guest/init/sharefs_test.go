//go:build linux

package init

import (
	"os"
	"path/filepath"
	"testing"
)

// A tag is served over 9p when a virtio-9p device carries it (sysfs
// shows the tag with a trailing NUL or newline), else over virtio-fs.
func TestHasNinePTag(t *testing.T) {
	dir := t.TempDir()
	for dev, tag := range map[string]string{"virtio3": "pier-m0\x00", "virtio4": "pier-m1\n"} {
		if err := os.MkdirAll(filepath.Join(dir, dev), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dev, "mount_tag"), []byte(tag), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := ninePTagsGlob
	ninePTagsGlob = filepath.Join(dir, "virtio*", "mount_tag")
	defer func() { ninePTagsGlob = old }()
	for tag, want := range map[string]bool{"pier-m0": true, "pier-m1": true, "pier-m2": false, "pier-emul": false, "": false} {
		if got := hasNinePTag(tag); got != want {
			t.Errorf("hasNinePTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

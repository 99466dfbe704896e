package image

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/pier-vm/pier/internal/testimages"
)

// debugfs runs a debugfs request against an ext4 image.
func debugfs(t *testing.T, disk, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, disk).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs %q: %v\n%s", request, err, out)
	}
	return string(out)
}

func TestRootDisk(t *testing.T) {
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("e2fsprogs not installed")
	}
	f := newFixture(t)
	img := f.pull(t, f.reg.Ref(testimages.Layers, testimages.Latest), "")
	paths := make([]string, 4)
	var wg sync.WaitGroup
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if paths[i], err = f.s.RootDisk(context.Background(), img); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	disk := paths[0]
	for _, p := range paths {
		if p != disk {
			t.Fatalf("paths differ: %v", paths)
		}
	}
	if !strings.HasSuffix(disk, "/rootfs/"+img.ManifestDigest[7:]+".ext4") {
		t.Fatalf("disk at %s", disk)
	}
	// tar2ext4 leaves the inode bitmap's padding unset, which e2fsck
	// reports; any other finding fails the test.
	out, _ := exec.Command("e2fsck", "-fn", disk).CombinedOutput()
	if n := strings.Count(string(out), "Fix? no"); n != strings.Count(string(out), "Padding at end of inode bitmap is not set. Fix? no") || !strings.Contains(string(out), "Pass 5") {
		t.Fatalf("e2fsck found problems:\n%s", out)
	}
	if ls := debugfs(t, disk, "ls -l /bin"); !strings.Contains(ls, "busybox") || !strings.Contains(ls, " sh") {
		t.Fatalf("/bin:\n%s", ls)
	}
	data := debugfs(t, disk, "ls /data")
	opq := debugfs(t, disk, "ls /opq")
	for _, c := range []struct {
		listing, name string
		want          bool
	}{
		{data, "keep", true}, {data, "top", true}, {data, "gone", false},
		{opq, "new", true}, {opq, "old", false}, {opq, "sub", false},
	} {
		if strings.Contains(c.listing, c.name) != c.want {
			t.Errorf("%s present = %v, want %v:\n%s", c.name, !c.want, c.want, c.listing)
		}
	}
	if home := debugfs(t, disk, "stat /home/app"); !strings.Contains(home, "User:  1000") {
		t.Errorf("/home/app ownership:\n%s", home)
	}
	// Built once: a second call returns the same file untouched.
	st, _ := os.Stat(disk)
	again, err := f.s.RootDisk(context.Background(), img)
	st2, _ := os.Stat(again)
	if err != nil || again != disk || !st2.ModTime().Equal(st.ModTime()) {
		t.Fatalf("second call: %s %v", again, err)
	}
	if _, temps := storeFiles(t, f.s.root); len(temps) != 0 {
		t.Fatalf("temp files: %v", temps)
	}
}

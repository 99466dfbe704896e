package guestassets

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// entry is one member parsed back from a newc archive.
type entry struct {
	name string
	mode uint32
	rdev [2]uint32
	data []byte
}

// readNewc parses a newc archive independently of the writer.
func readNewc(t *testing.T, b []byte) []entry {
	t.Helper()
	var out []entry
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("field %d at %d: %v", i, off, err)
			}
			return uint32(v)
		}
		mode, size, namesize := field(1), int(field(6)), int(field(11))
		rdev := [2]uint32{field(9), field(10)}
		name := string(b[off+110 : off+110+namesize-1])
		dataOff := align(off + 110 + namesize)
		if name == "TRAILER!!!" {
			if len(b)%4 != 0 {
				t.Errorf("archive length %d not 4-aligned", len(b))
			}
			return out
		}
		out = append(out, entry{name: name, mode: mode, rdev: rdev, data: b[dataOff : dataOff+size]})
		off = align(dataOff + size)
	}
}

// fakeGuestDir writes a guest directory whose modules.dep lists a module
// before its dependencies.
func fakeGuestDir(t *testing.T, dep string) string {
	t.Helper()
	dir := t.TempDir()
	kver := "6.1.0-test"
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(KernelName, "kernel")
	write(KernelReleaseName, kver+"\n")
	write(InitName, "#!init")
	write("modules/"+kver+"/modules.dep", dep)
	for _, line := range strings.Split(dep, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok {
			write("modules/"+kver+"/"+name, "ko:"+name)
		}
	}
	return dir
}

const fakeDep = `kernel/fs/virtiofs.ko: kernel/fs/fuse.ko kernel/virtio/virtio.ko kernel/virtio/virtio_ring.ko
kernel/fs/fuse.ko:
kernel/virtio/virtio.ko: kernel/virtio/virtio_ring.ko
kernel/virtio/virtio_ring.ko:
kernel/net/virtio_net.ko: kernel/net/net_failover.ko kernel/virtio/virtio.ko
kernel/net/net_failover.ko: kernel/net/failover.ko
kernel/net/failover.ko:
`

func TestPrepareBuildsOrderedInitramfs(t *testing.T) {
	guest := fakeGuestDir(t, fakeDep)
	cache := t.TempDir()
	a, err := Prepare(guest, cache)
	if err != nil {
		t.Fatal(err)
	}
	if a.KernelRelease != "6.1.0-test" || a.Kernel != filepath.Join(guest, KernelName) {
		t.Errorf("assets %+v", a)
	}
	b, err := os.ReadFile(a.Initramfs)
	if err != nil {
		t.Fatal(err)
	}
	entries := readNewc(t, b)
	byName := map[string]entry{}
	for _, e := range entries {
		byName[e.name] = e
	}
	if e, ok := byName["init"]; !ok || string(e.data) != "#!init" || e.mode != 0o100755 {
		t.Errorf("init entry %+v", e)
	}
	if e := byName["dev/console"]; e.mode != 0o020600 || e.rdev != [2]uint32{5, 1} {
		t.Errorf("dev/console %+v", e)
	}
	list := strings.Fields(string(byName["pier/modules.list"].data))
	if !slices.Equal(list, a.Modules) || len(list) != 7 {
		t.Fatalf("modules.list %q, Assets.Modules %q", list, a.Modules)
	}
	pos := map[string]int{}
	for i, p := range list {
		pos[p] = i
		e, ok := byName[strings.TrimPrefix(p, "/")]
		if !ok || !strings.HasPrefix(string(e.data), "ko:kernel/") {
			t.Errorf("module %s missing from the archive", p)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(fakeDep), "\n") {
		name, deps, _ := strings.Cut(line, ":")
		for _, d := range strings.Fields(deps) {
			m, dp := "/lib/modules/6.1.0-test/"+name, "/lib/modules/6.1.0-test/"+d
			if pos[dp] >= pos[m] {
				t.Errorf("%s loads at %d, before its dependency %s at %d", m, pos[m], dp, pos[dp])
			}
		}
	}
	// Every directory comes before what it holds.
	seen := map[string]bool{}
	for _, e := range entries {
		if d := filepath.Dir(e.name); d != "." && !seen[d] {
			t.Errorf("%s comes before its directory %s", e.name, d)
		}
		seen[e.name] = true
	}
	if out, err := exec.Command("cpio", "-it", "--quiet", "-F", a.Initramfs).Output(); err == nil {
		if !strings.Contains(string(out), "lib/modules/6.1.0-test/kernel/fs/virtiofs.ko\n") {
			t.Errorf("host cpio does not list virtiofs.ko:\n%s", out)
		}
	}
}

func TestPrepareCachesByContent(t *testing.T) {
	guest := fakeGuestDir(t, fakeDep)
	cache := t.TempDir()
	a1, err := Prepare(guest, cache)
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(a1.Initramfs)
	a2, err := Prepare(guest, cache)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(a2.Initramfs)
	if a1.Initramfs != a2.Initramfs || !os.SameFile(st1, st2) {
		t.Errorf("same content built twice: %s, %s", a1.Initramfs, a2.Initramfs)
	}
	if err := os.WriteFile(filepath.Join(guest, InitName), []byte("#!init v2"), 0o755); err != nil {
		t.Fatal(err)
	}
	a3, err := Prepare(guest, cache)
	if err != nil {
		t.Fatal(err)
	}
	if a3.Initramfs == a1.Initramfs {
		t.Error("a new init reused the old archive")
	}
	if left, _ := filepath.Glob(filepath.Join(cache, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestPrepareConcurrent(t *testing.T) {
	guest := fakeGuestDir(t, fakeDep)
	cache := t.TempDir()
	errs := make(chan error, 8)
	paths := make(chan string, 8)
	for range 8 {
		go func() {
			a, err := Prepare(guest, cache)
			if err == nil {
				paths <- a.Initramfs
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	first := <-paths
	b, _ := os.ReadFile(first)
	readNewc(t, b)
	for range 7 {
		if p := <-paths; p != first {
			t.Errorf("paths differ: %s, %s", p, first)
		}
	}
}

func TestModuleCycleAndUnknownDependency(t *testing.T) {
	for name, dep := range map[string]string{
		"cycle":   "a.ko: b.ko\nb.ko: a.ko\n",
		"unknown": "a.ko: missing.ko\n",
	} {
		guest := fakeGuestDir(t, dep)
		if _, err := Prepare(guest, t.TempDir()); err == nil {
			t.Errorf("%s: Prepare succeeded", name)
		}
	}
}

func TestMissingAssetsSayWhatToRun(t *testing.T) {
	_, err := Prepare(t.TempDir(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make guest-assets") {
		t.Errorf("err = %v", err)
	}
}

// TestRealGuestDir packs the real modules (when fetched) and checks the
// load order against their modules.dep.
func TestRealGuestDir(t *testing.T) {
	root, _ := filepath.Abs("../../..")
	guest := filepath.Join(root, "bin", "guest", runtime.GOARCH)
	kver, err := KernelRelease(guest)
	if err != nil {
		t.Skipf("no guest assets: %v", err)
	}
	init := filepath.Join(t.TempDir(), "init")
	os.WriteFile(init, []byte("init"), 0o755)
	a, err := PrepareWithInit(guest, init, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mods, err := parseModulesDep(filepath.Join(guest, "modules", kver, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Modules) != len(mods) {
		t.Fatalf("%d modules listed, modules.dep has %d", len(a.Modules), len(mods))
	}
	pos := map[string]int{}
	for i, p := range a.Modules {
		pos[p] = i
	}
	for _, m := range mods {
		for _, d := range m.deps {
			mp, dp := fmt.Sprintf("/lib/modules/%s/%s", kver, m.rel), fmt.Sprintf("/lib/modules/%s/%s", kver, d)
			if pos[dp] >= pos[mp] {
				t.Errorf("%s before its dependency %s", mp, dp)
			}
		}
	}
	var buf bytes.Buffer
	f, _ := os.Open(a.Initramfs)
	io.Copy(&buf, f)
	f.Close()
	if n := len(readNewc(t, buf.Bytes())); n < len(mods)+3 {
		t.Errorf("only %d entries", n)
	}
}

// A guest whose modules include 9p and its virtio transport can have its
// shares served over 9p; one with 9p but not the transport, or neither,
// cannot.
func TestPrepareSaysWhetherTheGuestHasNineP(t *testing.T) {
	for _, c := range []struct {
		dep  string
		want bool
	}{
		{fakeDep, false},
		{fakeDep + "\nextra/9p.ko: extra/9pnet.ko kernel/fs/netfs/netfs.ko\nextra/9pnet.ko:\nkernel/fs/netfs/netfs.ko:\n", false},
		{fakeDep + "\nextra/9p.ko: extra/9pnet.ko kernel/fs/netfs/netfs.ko\nextra/9pnet.ko:\nkernel/fs/netfs/netfs.ko:\nextra/9pnet_virtio.ko: extra/9pnet.ko kernel/virtio/virtio.ko\n", true},
	} {
		dir := fakeGuestDir(t, c.dep)
		a, err := Prepare(dir, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if a.NinePShares != c.want {
			t.Errorf("NinePShares %v, want %v, for modules.dep:\n%s", a.NinePShares, c.want, c.dep)
		}
		inv, err := Check(dir, "amd64")
		if err == nil && inv.NinePShares != c.want {
			t.Errorf("Check: NinePShares %v, want %v", inv.NinePShares, c.want)
		}
	}
}

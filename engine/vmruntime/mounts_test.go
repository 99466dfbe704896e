package vmruntime

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/guest/proto"
)

func TestMountsBecomeSharesAndGuestMounts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.conf")
	os.WriteFile(file, []byte("x"), 0o644)
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	g, err := mounts([]container.MountPoint{
		{Type: container.MountBind, Source: sock, Destination: "/var/run/docker.sock", RW: true},
		{Type: container.MountBind, Source: dir, Destination: "/h", RW: true},
		{Type: container.MountBind, Source: file, Destination: "/etc/app.conf"},
		{Type: container.MountVolume, Name: "v", Source: dir, Destination: "/data", RW: true, Mode: "z"},
		{Type: container.MountVolume, Name: "v", Source: dir, Destination: "/nocopy", RW: true, Mode: "nocopy", NoCopy: true},
		{Type: container.MountTmpfs, Destination: "/run", TmpfsOptions: "size=1m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	shares, specs := g.shares, g.specs
	if len(g.sockets) != 1 || g.sockets[0].Target != "/var/run/docker.sock" || g.hostSockets[0] != sock {
		t.Fatalf("sockets: %+v %v", g.sockets, g.hostSockets)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := g.dialSocket(0)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := g.dialSocket(1); err == nil {
		t.Fatal("dial of an unknown socket succeeded")
	}
	if len(shares) != 4 || len(specs) != 5 {
		t.Fatalf("%d shares, %d specs", len(shares), len(specs))
	}
	if s := shares[1]; s.HostPath != dir || !s.ReadOnly || s.Tag != "pier-m1" {
		t.Fatalf("file share: %+v", s)
	}
	want := []proto.MountSpec{
		{Type: proto.MountVirtiofs, Tag: "pier-m0", Target: "/h"},
		{Type: proto.MountVirtiofs, Tag: "pier-m1", SubPath: "app.conf", Target: "/etc/app.conf", ReadOnly: true},
		{Type: proto.MountVirtiofs, Tag: "pier-m2", Target: "/data", CopyUp: true},
		{Type: proto.MountVirtiofs, Tag: "pier-m3", Target: "/nocopy"},
		{Type: proto.MountTmpfs, Target: "/run", Options: "size=1m"},
	}
	for i := range want {
		if specs[i] != want[i] {
			t.Errorf("spec %d: %+v, want %+v", i, specs[i], want[i])
		}
	}
	if _, err := mounts([]container.MountPoint{{Type: container.MountBind, Source: filepath.Join(dir, "gone"), Destination: "/x"}}); err == nil {
		t.Fatal("a missing source was accepted")
	}
}

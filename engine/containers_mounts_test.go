package engine_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func TestCreateResolvesMounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	host := t.TempDir()
	missing := filepath.Join(host, "made-by-v")
	create := func(hc container.HostConfig) (*engine.Info, error) {
		t.Helper()
		res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{Config: container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: hc})
		if err != nil {
			return nil, err
		}
		return f.c.ContainerInspect(res.ID)
	}
	info, err := create(container.HostConfig{
		Binds:  []string{host + ":/host:ro", "data:/data", "/anon", missing + ":/made"},
		Mounts: []container.Mount{{Type: "tmpfs", Target: "/scratch"}},
		Tmpfs:  map[string]string{"/run": "size=8m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]container.MountPoint{}
	for _, mp := range info.MountPoints {
		got[mp.Destination] = mp
	}
	if mp := got["/host"]; mp.Type != "bind" || mp.Source != host || mp.RW || mp.Mode != "ro" {
		t.Errorf("/host: %+v", mp)
	}
	if mp := got["/data"]; mp.Type != "volume" || mp.Name != "data" || mp.Anonymous || !mp.RW || filepath.Base(mp.Source) != "_data" {
		t.Errorf("/data: %+v", mp)
	}
	if mp := got["/anon"]; mp.Type != "volume" || !mp.Anonymous || len(mp.Name) != 64 {
		t.Errorf("/anon: %+v", mp)
	}
	if mp := got["/run"]; mp.Type != "tmpfs" || mp.TmpfsOptions != "size=8m" {
		t.Errorf("/run: %+v", mp)
	}
	if got["/scratch"].Type != "tmpfs" || len(info.MountPoints) != 6 {
		t.Errorf("mount points: %+v", info.MountPoints)
	}
	if fi, err := os.Stat(missing); err != nil || !fi.IsDir() {
		t.Errorf("-v of a missing host directory does not create it: %v", err)
	}
	if fi, err := os.Stat(got["/data"].Source); err != nil || !fi.IsDir() {
		t.Errorf("volume directory: %v", err)
	}

	sock := filepath.Join(host, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct {
		hc   container.HostConfig
		kind errdefs.Kind
	}{
		{container.HostConfig{Binds: []string{sock + ":/var/run/docker.sock:ro"}}, errdefs.KindNotImplemented},
		{container.HostConfig{Binds: []string{host + ":/x:bogus"}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Binds: []string{host + ":relative"}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Binds: []string{host + ":/"}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Binds: []string{"bad name!:/x"}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Binds: []string{host + ":/x", "v1:/x"}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Mounts: []container.Mount{{Type: "bind", Source: filepath.Join(host, "nope"), Target: "/x"}}}, errdefs.KindInvalidParameter},
		{container.HostConfig{Mounts: []container.Mount{{Type: "npipe", Source: "x", Target: "/x"}}}, errdefs.KindNotImplemented},
	} {
		if _, err := create(c.hc); errdefs.KindOf(err) != c.kind {
			t.Errorf("%+v: %v (kind %v, want %v)", c.hc, err, errdefs.KindOf(err), c.kind)
		}
	}
}

func TestVolumeLifecycleWithContainers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.c.VolumeCreate(ctx, "named", "", map[string]string{"k": "v"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.VolumeCreate(ctx, "x", "nfs", nil, nil); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown driver: %v", err)
	}
	res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Config:     container.Config{Image: "busybox", Cmd: []string{"true"}},
		HostConfig: container.HostConfig{Binds: []string{"named:/a", "/anon"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.c.ContainerInspect(res.ID)
	var anon string
	for _, mp := range info.MountPoints {
		if mp.Anonymous {
			anon = mp.Name
		}
	}
	if err := f.c.VolumeRemove(ctx, "named", false); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use - ["+res.ID+"]") {
		t.Fatalf("remove in use: %v", err)
	}
	if removed, _, err := f.c.VolumePrune(ctx, nil, true); err != nil || len(removed) != 0 {
		t.Fatalf("prune while used: %v %v", removed, err)
	}
	v, err := f.c.VolumeInspect("named")
	if err != nil || len(v.UsedBy) != 1 {
		t.Fatalf("inspect: %+v %v", v, err)
	}
	// rm -v takes the anonymous volume, not the named one.
	if err := f.c.ContainerRemove(ctx, res.ID, engine.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.VolumeInspect(anon); !errdefs.IsNotFound(err) {
		t.Fatalf("anonymous volume after rm -v: %v", err)
	}
	// Unused now: prune without all keeps named volumes; with all, it goes.
	if removed, _, err := f.c.VolumePrune(ctx, nil, false); err != nil || len(removed) != 0 {
		t.Fatalf("prune (anonymous only): %v %v", removed, err)
	}
	if removed, _, err := f.c.VolumePrune(ctx, nil, true); err != nil || len(removed) != 1 || removed[0] != "named" {
		t.Fatalf("prune all: %v %v", removed, err)
	}
	if err := f.c.VolumeRemove(ctx, "named", true); err != nil {
		t.Fatalf("force remove of a missing volume: %v", err)
	}
	if err := f.c.VolumeRemove(ctx, "named", false); !errdefs.IsNotFound(err) {
		t.Fatalf("remove of a missing volume: %v", err)
	}
}

// `-v /path` (Config.Volumes) and image VOLUMEs get anonymous volumes,
// unless an explicit mount covers the path.
func TestConfigVolumesBecomeAnonymousVolumes(t *testing.T) {
	f := newFixture(t)
	host := t.TempDir()
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Config:     container.Config{Image: "busybox", Cmd: []string{"true"}, Volumes: []string{"/cache", "/data/"}},
		HostConfig: container.HostConfig{Binds: []string{host + ":/data"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.c.ContainerInspect(res.ID)
	if len(info.MountPoints) != 2 {
		t.Fatalf("mount points: %+v", info.MountPoints)
	}
	for _, mp := range info.MountPoints {
		switch mp.Destination {
		case "/cache":
			if mp.Type != "volume" || !mp.Anonymous || !mp.RW {
				t.Errorf("/cache: %+v", mp)
			}
		case "/data":
			if mp.Type != "bind" {
				t.Errorf("/data: %+v", mp)
			}
		default:
			t.Errorf("unexpected %+v", mp)
		}
	}
}

func TestMountOptionsAreKept(t *testing.T) {
	f := newFixture(t)
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Config: container.Config{Image: "busybox", Cmd: []string{"true"}},
		HostConfig: container.HostConfig{
			Binds: []string{"v1:/a:nocopy"},
			Mounts: []container.Mount{
				{Type: "volume", Source: "v2", Target: "/b", NoCopy: true},
				{Type: "tmpfs", Target: "/t", TmpfsSize: 8 << 20, TmpfsMode: 0o1777},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.c.ContainerInspect(res.ID)
	for _, mp := range info.MountPoints {
		switch mp.Destination {
		case "/a", "/b":
			if !mp.NoCopy {
				t.Errorf("%s: nocopy lost: %+v", mp.Destination, mp)
			}
		case "/t":
			if mp.TmpfsOptions != "size=8388608,mode=1777" {
				t.Errorf("tmpfs options %q", mp.TmpfsOptions)
			}
		}
	}
}

package engine_test

import (
	"context"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// --volumes-from as dockerd: the source's binds, volumes and --mount tmpfs
// (not its --tmpfs) at the same destinations, read-only with ":ro" or
// when the source's is; the container's own mounts win; a shared
// anonymous volume stays its first container's (`rm -v` of the other
// leaves it, and it is in use while either exists).
func TestVolumesFromSharesTheSourcesMounts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	host, other := t.TempDir(), t.TempDir()
	create := func(name string, hc container.HostConfig) (*engine.Info, error) {
		t.Helper()
		res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{Name: name, Config: container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: hc})
		if err != nil {
			return nil, err
		}
		return f.c.ContainerInspect(res.ID)
	}
	src, err := create("datasrc", container.HostConfig{
		Binds:  []string{host + ":/host:ro", "shared:/data", "/anon", other + ":/mine"},
		Mounts: []container.Mount{{Type: "tmpfs", Target: "/scratch"}},
		Tmpfs:  map[string]string{"/run": "size=8m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	srcMounts := map[string]container.MountPoint{}
	for _, mp := range src.MountPoints {
		srcMounts[mp.Destination] = mp
	}
	own := t.TempDir()
	user, err := create("datauser", container.HostConfig{VolumesFrom: []string{"datasrc:ro"}, Binds: []string{own + ":/mine"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]container.MountPoint{}
	for _, mp := range user.MountPoints {
		got[mp.Destination] = mp
	}
	if mp := got["/data"]; mp.Type != "volume" || mp.Name != "shared" || mp.RW || mp.Source != srcMounts["/data"].Source {
		t.Errorf("/data: %+v", mp)
	}
	if mp := got["/anon"]; mp.Type != "volume" || mp.Name != srcMounts["/anon"].Name || mp.Anonymous || mp.RW {
		t.Errorf("/anon: %+v (source's %+v)", mp, srcMounts["/anon"])
	}
	if mp := got["/host"]; mp.Type != "bind" || mp.Source != host || mp.RW {
		t.Errorf("/host: %+v", mp)
	}
	if mp := got["/mine"]; mp.Source != own || !mp.RW {
		t.Errorf("/mine is not the container's own bind: %+v", mp)
	}
	if got["/scratch"].Type != "tmpfs" || len(got) != 5 {
		t.Errorf("mount points %+v (no /run: the source's --tmpfs)", user.MountPoints)
	}
	if len(user.HostConfig.VolumesFrom) != 1 || user.HostConfig.VolumesFrom[0] != "datasrc:ro" {
		t.Errorf("HostConfig.VolumesFrom %v", user.HostConfig.VolumesFrom)
	}

	// Without :ro a read-write mount stays read-write, a read-only one not.
	rw, err := create("datarw", container.HostConfig{VolumesFrom: []string{"datasrc"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range rw.MountPoints {
		if want := mp.Destination != "/host"; mp.RW != want {
			t.Errorf("%s without a mode: RW %v", mp.Destination, mp.RW)
		}
	}

	anon := srcMounts["/anon"].Name
	for _, id := range []string{user.ID, rw.ID} {
		if err := f.c.ContainerRemove(ctx, id, engine.RemoveOptions{RemoveVolumes: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.c.VolumeInspect(anon); err != nil {
		t.Fatalf("rm -v of a --volumes-from container removed the source's anonymous volume: %v", err)
	}
	if err := f.c.VolumeRemove(ctx, "shared", false); !errdefs.IsConflict(err) {
		t.Fatalf("removing a volume the source still mounts: %v", err)
	}

	for spec, isKind := range map[string]func(error) bool{
		"nosuch":          errdefs.IsNotFound,
		"":                errdefs.IsInvalidParameter,
		"datasrc:bogus":   errdefs.IsInvalidParameter,
		"datasrc:ro,rw":   errdefs.IsInvalidParameter,
		"datasrc:rshared": errdefs.IsInvalidParameter,
		"datasrc:nocopy":  errdefs.IsInvalidParameter,
	} {
		if _, err := create("", container.HostConfig{VolumesFrom: []string{spec}}); !isKind(err) {
			t.Errorf("--volumes-from %q: %v", spec, err)
		}
	}
	if _, err := create("", container.HostConfig{VolumesFrom: []string{"datasrc:ro,z"}}); err != nil {
		t.Errorf("--volumes-from datasrc:ro,z: %v", err)
	}
}

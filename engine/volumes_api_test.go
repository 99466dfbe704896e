package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// volumeEvents are the volume events published so far, as
// "action:name[:attr=value]" (prune: "prune:reclaimed=N").
func (f *fixture) volumeEvents() []string {
	history, _, cancel := f.bus.Subscribe()
	cancel()
	var out []string
	for _, e := range history {
		if e.Type != events.TypeVolume {
			continue
		}
		switch e.Action {
		case "prune":
			out = append(out, "prune:reclaimed="+e.Actor.Attributes["reclaimed"])
		default:
			if e.Actor.Attributes["driver"] != "local" {
				out = append(out, "bad driver attribute: "+e.Actor.ID)
			}
			out = append(out, e.Action+":"+e.Actor.ID)
		}
	}
	return out
}

func (f *fixture) createWith(t *testing.T, name string, hc container.HostConfig) string {
	t.Helper()
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Name: name, Config: container.Config{Image: "busybox", Cmd: []string{"sleep", "inf"}}, HostConfig: hc,
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return res.ID
}

func anonymousOf(t *testing.T, f *fixture, id string) string {
	t.Helper()
	info, err := f.c.ContainerInspect(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range info.MountPoints {
		if mp.Anonymous {
			return mp.Name
		}
	}
	t.Fatalf("%s has no anonymous volume: %+v", id, info.MountPoints)
	return ""
}

// TestVolumeAPI covers create (events once, dockerd's plugin error),
// remove while used by stopped containers (409 even with force), inspect's
// and list's users, `ps --filter volume=`, a failed create leaving no
// anonymous volume, `rm -v`, and prune (anonymous only unless all, the
// space reclaimed, its event).
func TestVolumeAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	named, err := f.c.VolumeCreate(ctx, "named", "local", map[string]string{"k": "v"}, nil)
	if err != nil || named.Anonymous || named.Labels["k"] != "v" {
		t.Fatalf("create: %+v %v", named, err)
	}
	if again, err := f.c.VolumeCreate(ctx, "named", "", nil, nil); err != nil || !again.CreatedAt.Equal(named.CreatedAt) || again.Labels["k"] != "v" {
		t.Fatalf("create again: %+v %v", again, err)
	}
	if _, err := f.c.VolumeCreate(ctx, "x", "nfs", nil, nil); !errdefs.IsNotFound(err) || err.Error() != `create x: error looking up volume plugin nfs: plugin "nfs" not found` {
		t.Fatalf("unknown driver: %v", err)
	}

	host := t.TempDir()
	c1 := f.createWith(t, "c1", container.HostConfig{
		Binds: []string{"named:/a", "/anon", "fresh:/f", host + ":/h"},
		Tmpfs: map[string]string{"/run": ""},
	})
	c2 := f.createWith(t, "c2", container.HostConfig{Binds: []string{"named:/b"}})
	anon := anonymousOf(t, f, c1)
	if got, want := f.volumeEvents(), []string{"create:named", "create:" + anon, "create:fresh"}; !sameSet(got, want) {
		t.Fatalf("events after creates: %v, want %v (in any order)", got, want)
	}

	users := []string{c1, c2}
	slices.Sort(users)
	for _, force := range []bool{false, true} {
		err := f.c.VolumeRemove(ctx, "named", force)
		if !errdefs.IsConflict(err) || err.Error() != "remove named: volume is in use - ["+strings.Join(users, ", ")+"]" {
			t.Fatalf("remove in use (force %v): %v", force, err)
		}
	}
	if v, err := f.c.VolumeInspect("named"); err != nil || !slices.Equal(v.UsedBy, users) {
		t.Fatalf("inspect: %+v %v", v, err)
	}
	listed := map[string]int{}
	for _, v := range f.c.VolumeList() {
		listed[v.Name] = len(v.UsedBy)
	}
	if len(listed) != 3 || listed["named"] != 2 || listed["fresh"] != 1 || listed[anon] != 1 {
		t.Fatalf("list: %v", listed)
	}

	ps := func(refs ...string) string {
		t.Helper()
		list, err := f.c.ContainerList(engine.ListOptions{All: true, Filter: engine.ListFilter{Volumes: refs}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range list {
			names = append(names, strings.TrimPrefix(s.Name, "/"))
		}
		slices.Sort(names)
		return strings.Join(names, ",")
	}
	for refs, want := range map[string]string{
		"named": "c1,c2", "fresh": "c1", "/b": "c2", "/a": "c1", anon: "c1", host: "c1", "/h": "c1",
		"/run": "", // --tmpfs is no mount point in dockerd
		"nope": "", "/b,/f": "c1,c2",
	} {
		if got := ps(strings.Split(refs, ",")...); got != want {
			t.Errorf("ps --filter volume=%s: %q, want %q", refs, got, want)
		}
	}

	// A create that fails after its mounts are resolved (the name is
	// taken) leaves no anonymous volume behind.
	before := len(f.c.VolumeList())
	if _, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Name: "c1", Config: container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: container.HostConfig{Binds: []string{"/leak"}},
	}); !errdefs.IsConflict(err) {
		t.Fatalf("create with a taken name: %v", err)
	}
	if n := len(f.c.VolumeList()); n != before {
		t.Fatalf("a failed create left %d volumes behind", n-before)
	}

	// rm -v takes the anonymous volume only.
	if err := f.c.ContainerRemove(ctx, c1, engine.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.VolumeInspect(anon); !errdefs.IsNotFound(err) {
		t.Fatalf("anonymous volume after rm -v: %v", err)
	}
	if _, err := f.c.VolumeInspect("fresh"); err != nil {
		t.Fatalf("named volume after rm -v: %v", err)
	}

	// Prune: an unused anonymous volume goes (with its bytes counted),
	// named ones only with all, and never one still mounted.
	spare, err := f.c.VolumeCreate(ctx, "", "", nil, nil)
	if err != nil || !spare.Anonymous {
		t.Fatalf("anonymous create: %+v %v", spare, err)
	}
	if err := os.WriteFile(filepath.Join(spare.Mountpoint, "f"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if removed, reclaimed, err := f.c.VolumePrune(ctx, nil, false); err != nil || !slices.Equal(removed, []string{spare.Name}) || reclaimed != 5 {
		t.Fatalf("prune: %v %d %v", removed, reclaimed, err)
	}
	if removed, _, err := f.c.VolumePrune(ctx, func(v volume.Volume) bool { return v.Name != "fresh" }, true); err != nil || len(removed) != 0 {
		t.Fatalf("prune with a filter matching no unused volume: %v %v", removed, err)
	}
	if removed, _, err := f.c.VolumePrune(ctx, nil, true); err != nil || !slices.Equal(removed, []string{"fresh"}) {
		t.Fatalf("prune all: %v %v", removed, err)
	}
	if err := f.c.ContainerRemove(ctx, c2, engine.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.VolumeInspect("named"); err != nil {
		t.Fatalf("rm -v removed a named volume: %v", err)
	}
	if err := f.c.VolumeRemove(ctx, "named", false); err != nil {
		t.Fatal(err)
	}
	if err := f.c.VolumeRemove(ctx, "named", false); !errdefs.IsNotFound(err) || err.Error() != "get named: no such volume" {
		t.Fatalf("remove of a missing volume: %v", err)
	}
	if err := f.c.VolumeRemove(ctx, "named", true); err != nil {
		t.Fatalf("force remove of a missing volume: %v", err)
	}
	evs := f.volumeEvents()
	leak := ""
	for _, e := range evs {
		if strings.HasPrefix(e, "create:") && e != "create:named" && e != "create:fresh" && e != "create:"+anon && e != "create:"+spare.Name {
			leak = strings.TrimPrefix(e, "create:")
		}
	}
	want := []string{
		"create:named", "create:" + anon, "create:fresh", "create:" + leak, "destroy:" + leak,
		"destroy:" + anon, "create:" + spare.Name, "destroy:" + spare.Name, "prune:reclaimed=5",
		"prune:reclaimed=0", "destroy:fresh", "prune:reclaimed=0", "destroy:named",
	}
	if leak == "" || !slices.Equal(evs[3:], want[3:]) || !sameSet(evs[:3], want[:3]) {
		t.Fatalf("volume events:\n got %v\nwant %v", evs, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestAutoRemoveTakesAnonymousVolumes: a --rm container's anonymous
// volumes go with it, its named ones stay.
func TestAutoRemoveTakesAnonymousVolumes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Config:     container.Config{Image: "busybox", Cmd: []string{"echo", "bye"}},
		HostConfig: container.HostConfig{AutoRemove: true, Binds: []string{"/anon", "keep:/keep"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	anon := anonymousOf(t, f, res.ID)
	removed, err := f.c.ContainerWait(ctx, res.ID, engine.WaitRemoved)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(ctx, res.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-removed:
	case <-time.After(5 * time.Second):
		t.Fatal("auto-remove did not happen")
	}
	// The volumes go after the container's destroy event: wait for them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := f.c.VolumeInspect(anon)
		if errdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("anonymous volume after --rm: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.c.VolumeInspect("keep"); err != nil {
		t.Fatalf("named volume after --rm: %v", err)
	}
}

package volume_test

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/internal/apitest"
	containerrouter "github.com/pier-vm/pier/server/container"
	"github.com/pier-vm/pier/server/httputils"
	volumerouter "github.com/pier-vm/pier/server/volume"
)

var _ volumerouter.Backend = (*engine.Containers)(nil)

// TestVolumesThroughTheAPI drives the volume and container routers over
// the engine (fake runtime) with the Docker client: create, list with
// filters, inspect, remove while a container mounts it (409), the
// container's Mounts and `ps --filter volume=`, `rm -v`, prune.
func TestVolumesThroughTheAPI(t *testing.T) {
	a := apitest.New(t, func(c *engine.Containers, _ *events.Bus) []httputils.Router {
		return []httputils.Router{volumerouter.NewRouter(c), containerrouter.NewRouter(c)}
	})
	cli := a.Client
	do := func(method, path, body string) (int, string) {
		return a.Do(t, method, "/v1.51"+path, body)
	}
	ctx := context.Background()

	// What the docker CLI sends for `docker volume create --label a=b data`.
	v, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: "data", Driver: "local", DriverOpts: map[string]string{}, Labels: map[string]string{"a": "b"}})
	if err != nil || v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels["a"] != "b" || !strings.HasSuffix(v.Mountpoint, "/volumes/data/_data") {
		t.Fatalf("create: %+v %v", v, err)
	}
	if code, body := do("POST", "/volumes/create", `{"Name":"x","Driver":"nfs"}`); code != 404 || !strings.Contains(body, `plugin \"nfs\" not found`) {
		t.Fatalf("unknown driver: %d %s", code, body)
	}
	if code, body := do("POST", "/volumes/create", `{"Name":"bad name"}`); code != 400 {
		t.Fatalf("bad name: %d %s", code, body)
	}
	if code, body := do("POST", "/volumes/create", `{"Name":`); code != 400 {
		t.Fatalf("bad JSON: %d %s", code, body)
	}

	res, err := cli.ContainerCreate(ctx, &container.Config{Image: "busybox", Cmd: []string{"true"}},
		&container.HostConfig{Binds: []string{"data:/data:ro", "/anon"}, Tmpfs: map[string]string{"/run": ""}}, nil, nil, "web")
	if err != nil {
		t.Fatal(err)
	}
	inspect, err := cli.ContainerInspect(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if m := inspect.Mounts; len(m) != 2 || m[0].Destination != "/anon" || m[0].Type != "volume" || len(m[0].Name) != 64 || m[0].Mode != "z" || !m[0].RW ||
		m[1].Name != "data" || m[1].Source != v.Mountpoint || m[1].Mode != "ro" || m[1].RW || m[1].Driver != "local" {
		t.Fatalf("inspect Mounts: %+v", m)
	}
	anon := inspect.Mounts[0].Name
	for _, ref := range []string{"data", "/anon", anon} {
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("volume", ref))})
		if err != nil || len(list) != 1 || list[0].ID != res.ID || len(list[0].Mounts) != 2 {
			t.Fatalf("ps --filter volume=%s: %+v %v", ref, list, err)
		}
	}
	if list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("volume", "other"))}); err != nil || len(list) != 0 {
		t.Fatalf("ps --filter volume=other: %+v %v", list, err)
	}

	l, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.volume.anonymous"))})
	if err != nil || len(l.Volumes) != 1 || l.Volumes[0].Name != anon || l.Volumes[0].UsageData != nil {
		t.Fatalf("list anonymous: %+v %v", l, err)
	}
	if l, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("dangling", "true"))}); err != nil || len(l.Volumes) != 0 {
		t.Fatalf("list dangling: %+v %v", l, err)
	}
	if code, body := do("DELETE", "/volumes/data?force=1", ""); code != 409 || body != `{"message":"remove data: volume is in use - [`+res.ID+`]"}`+"\n" {
		t.Fatalf("remove while mounted: %d %s", code, body)
	}
	if err := cli.ContainerRemove(ctx, "web", container.RemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if code, _ := do("GET", "/volumes/"+anon, ""); code != 404 {
		t.Fatalf("anonymous volume after rm -v: %d", code)
	}
	got, err := cli.VolumeInspect(ctx, "data")
	if err != nil || got.CreatedAt != v.CreatedAt {
		t.Fatalf("inspect: %+v %v", got, err)
	}
	if rep, err := cli.VolumesPrune(ctx, filters.NewArgs()); err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("prune keeps named volumes: %+v %v", rep, err)
	}
	if rep, err := cli.VolumesPrune(ctx, filters.NewArgs(filters.Arg("all", "true"), filters.Arg("label!", "a=c"))); err != nil || len(rep.VolumesDeleted) != 1 || rep.VolumesDeleted[0] != "data" {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
	// dockerd's JSON for an empty list, and 404 for a missing volume.
	if code, body := do("GET", "/volumes", ""); code != 200 || body != "{\"Volumes\":[],\"Warnings\":null}\n" {
		t.Fatalf("empty list: %d %s", code, body)
	}
	if code, body := do("DELETE", "/volumes/data", ""); code != 404 || !strings.Contains(body, "get data: no such volume") {
		t.Fatalf("remove of a missing volume: %d %s", code, body)
	}
	if err := cli.VolumeRemove(ctx, "data", true); err != nil {
		t.Fatalf("forced remove of a missing volume: %v", err)
	}
}

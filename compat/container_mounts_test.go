package compat

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
)

// withMounts is a container made with -v /srv/www:/www:ro, --mount
// type=bind, -v data:/data, -v /anon, --mount type=tmpfs and --tmpfs /run,
// as the engine resolves them.
func withMounts() enginecontainer.Container {
	return enginecontainer.Container{
		ID: testID, Name: "/web",
		HostConfig: enginecontainer.HostConfig{
			Binds:  []string{"/srv/www:/www:ro", "data:/data", "/anon"},
			Mounts: []enginecontainer.Mount{{Type: "bind", Source: "/srv/conf", Target: "/conf"}, {Type: "tmpfs", Target: "/scratch"}},
			Tmpfs:  map[string]string{"/run/": "size=8m"},
		},
		MountPoints: []enginecontainer.MountPoint{
			{Type: "volume", Name: "0123abcd", Source: "/v/0123abcd/_data", Destination: "/anon", RW: true, Mode: "z", Anonymous: true},
			{Type: "bind", Source: "/srv/conf", Destination: "/conf", RW: true, Propagation: "rprivate"},
			{Type: "volume", Name: "data", Source: "/v/data/_data", Destination: "/data", RW: true, Mode: "z"},
			{Type: "tmpfs", Destination: "/run", RW: true, TmpfsOptions: "size=8m"},
			{Type: "tmpfs", Destination: "/scratch", RW: true},
			{Type: "bind", Source: "/srv/www", Destination: "/www", Mode: "ro", Propagation: "rprivate"},
		},
	}
}

func TestContainerMounts(t *testing.T) {
	c := withMounts()
	want := []string{
		`{"Type":"volume","Name":"0123abcd","Source":"/v/0123abcd/_data","Destination":"/anon","Driver":"local","Mode":"z","RW":true,"Propagation":""}`,
		`{"Type":"bind","Source":"/srv/conf","Destination":"/conf","Mode":"","RW":true,"Propagation":"rprivate"}`,
		`{"Type":"volume","Name":"data","Source":"/v/data/_data","Destination":"/data","Driver":"local","Mode":"z","RW":true,"Propagation":""}`,
		// --tmpfs /run is not listed: dockerd does not make it a mount point.
		`{"Type":"tmpfs","Source":"","Destination":"/scratch","Mode":"","RW":true,"Propagation":""}`,
		`{"Type":"bind","Source":"/srv/www","Destination":"/www","Mode":"ro","RW":false,"Propagation":"rprivate"}`,
	}
	check := func(what string, got []container.MountPoint) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d mounts, want %d: %+v", what, len(got), len(want), got)
		}
		for i := range want {
			if b, _ := json.Marshal(got[i]); string(b) != want[i] {
				t.Errorf("%s mount %d:\n got %s\nwant %s", what, i, b, want[i])
			}
		}
	}
	inspect := ContainerInspect(&engine.Info{Container: c})
	check("inspect", inspect.Mounts)
	check("ps", ContainerSummary(engine.Summary{Container: c}, time.Now()).Mounts)

	// HostConfig keeps what create was given.
	hc := inspect.HostConfig
	if len(hc.Binds) != 3 || hc.Binds[0] != "/srv/www:/www:ro" || len(hc.Mounts) != 2 || hc.Mounts[0].Source != "/srv/conf" ||
		hc.Mounts[1].Type != "tmpfs" || hc.Tmpfs["/run/"] != "size=8m" {
		t.Errorf("HostConfig: Binds %v, Mounts %+v, Tmpfs %v", hc.Binds, hc.Mounts, hc.Tmpfs)
	}

	// Without mounts, Mounts is [] (never null).
	if b, _ := json.Marshal(ContainerInspect(&engine.Info{Container: enginecontainer.Container{ID: testID}}).Mounts); string(b) != "[]" {
		t.Errorf("no mounts: %s", b)
	}
}

func TestContainerListFilterVolume(t *testing.T) {
	f, _, err := ContainerListFilter(filters.NewArgs(filters.Arg("volume", "data"), filters.Arg("volume", "/www")))
	if err != nil || len(f.Volumes) != 2 {
		t.Fatalf("%+v %v", f, err)
	}
}

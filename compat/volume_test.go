package compat

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"

	"github.com/pier-vm/pier/engine"
	enginevolume "github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// testVolumes are a named volume in use, a named one unused with labels,
// an unused anonymous one and an anonymous one in use.
func testVolumes() []engine.VolumeInfo {
	mk := func(name string, anon bool, labels map[string]string, users ...string) engine.VolumeInfo {
		return engine.VolumeInfo{
			Volume: enginevolume.Volume{Name: name, Driver: "local", Mountpoint: "/var/lib/pier/volumes/" + name + "/_data", CreatedAt: t0, Labels: labels, Anonymous: anon},
			UsedBy: users,
		}
	}
	return []engine.VolumeInfo{
		mk("data", false, nil, "c1"),
		mk("db-data", false, map[string]string{"com.docker.compose.project": "shop", "tier": "db"}),
		mk("0123abcd", true, nil),
		mk("4567ef01", true, map[string]string{"tier": "web"}, "c2", "c3"),
	}
}

func TestVolume(t *testing.T) {
	vols := testVolumes()
	v := Volume(vols[1])
	if v.Name != "db-data" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != "/var/lib/pier/volumes/db-data/_data" ||
		v.CreatedAt != "2025-03-01T10:00:00Z" || v.Labels["tier"] != "db" || len(v.Labels) != 2 || v.UsageData != nil || v.Status != nil {
		t.Fatalf("named volume: %+v", v)
	}
	// The JSON dockerd writes: Labels never null, Options null when none
	// were given ({} when an empty map was, as the docker CLI sends), no
	// Status, no UsageData (only system df has it), no ClusterVolume.
	b, _ := json.Marshal(Volume(vols[0]))
	want := `{"CreatedAt":"2025-03-01T10:00:00Z","Driver":"local","Labels":{},"Mountpoint":"/var/lib/pier/volumes/data/_data","Name":"data","Options":null,"Scope":"local"}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	vols[0].Options = map[string]string{}
	if b, _ := json.Marshal(Volume(vols[0])); !strings.Contains(string(b), `"Options":{}`) {
		t.Errorf("empty options: %s", b)
	}
	// Anonymous volumes carry dockerd's label, and the engine's labels are
	// not modified.
	anon := Volume(vols[3])
	if l, ok := anon.Labels[VolumeAnonymousLabel]; !ok || l != "" || anon.Labels["tier"] != "web" || len(vols[3].Labels) != 1 {
		t.Errorf("anonymous volume labels: %v (engine's: %v)", anon.Labels, vols[3].Labels)
	}
}

func TestVolumeListFilter(t *testing.T) {
	all := "data,db-data,0123abcd,4567ef01"
	cases := []struct {
		args filters.Args
		want string
	}{
		{filters.NewArgs(), all},
		{filters.NewArgs(filters.Arg("name", "data")), "data,db-data"}, // found anywhere, as dockerd
		{filters.NewArgs(filters.Arg("name", "^data$")), "data"},
		{filters.NewArgs(filters.Arg("name", "db-"), filters.Arg("name", "0123")), "db-data,0123abcd"},
		{filters.NewArgs(filters.Arg("name", "nothing")), ""},
		{filters.NewArgs(filters.Arg("label", "tier")), "db-data,4567ef01"},
		{filters.NewArgs(filters.Arg("label", "tier=db")), "db-data"},
		{filters.NewArgs(filters.Arg("label", "tier=db"), filters.Arg("label", "com.docker.compose.project=shop")), "db-data"},
		{filters.NewArgs(filters.Arg("label", "tier=db"), filters.Arg("label", "com.docker.compose.project=other")), ""},
		{filters.NewArgs(filters.Arg("label", VolumeAnonymousLabel)), "0123abcd,4567ef01"},
		{filters.NewArgs(filters.Arg("driver", "local")), all},
		{filters.NewArgs(filters.Arg("driver", "loc")), ""}, // exact
		{filters.NewArgs(filters.Arg("driver", "nfs")), ""},
		{filters.NewArgs(filters.Arg("dangling", "true")), "db-data,0123abcd"},
		{filters.NewArgs(filters.Arg("dangling", "1")), "db-data,0123abcd"},
		{filters.NewArgs(filters.Arg("dangling", "false")), "data,4567ef01"},
		{filters.NewArgs(filters.Arg("dangling", "0"), filters.Arg("label", "tier")), "4567ef01"},
	}
	for _, c := range cases {
		f, err := NewVolumeListFilter(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var names []string
		for _, v := range testVolumes() {
			if f.Match(v) {
				names = append(names, v.Name)
			}
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("%v: got %q, want %q", c.args, got, c.want)
		}
	}
	for _, args := range []filters.Args{
		filters.NewArgs(filters.Arg("colour", "red")),
		filters.NewArgs(filters.Arg("label!", "tier")), // prune only
		filters.NewArgs(filters.Arg("dangling", "maybe")),
		filters.NewArgs(filters.Arg("dangling", "TRUE")), // dockerd is case-sensitive here
		filters.NewArgs(filters.Arg("dangling", "true"), filters.Arg("dangling", "false")),
	} {
		if _, err := NewVolumeListFilter(args); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestVolumePruneFilter(t *testing.T) {
	cases := []struct {
		args    filters.Args
		wantAll bool
		want    string // among every volume; the engine skips used and (without all) named ones
	}{
		{filters.NewArgs(), false, "data,db-data,0123abcd,4567ef01"},
		{filters.NewArgs(filters.Arg("all", "true")), true, "data,db-data,0123abcd,4567ef01"},
		{filters.NewArgs(filters.Arg("all", "1")), true, "data,db-data,0123abcd,4567ef01"},
		{filters.NewArgs(filters.Arg("all", "False")), false, "data,db-data,0123abcd,4567ef01"}, // strconv.ParseBool, as dockerd
		{filters.NewArgs(filters.Arg("label", "tier")), false, "db-data,4567ef01"},
		{filters.NewArgs(filters.Arg("label", "tier=db")), false, "db-data"},
		{filters.NewArgs(filters.Arg("label!", "tier=db")), false, "data,0123abcd,4567ef01"},
		{filters.NewArgs(filters.Arg("label!", "tier")), false, "data,0123abcd"},
		{filters.NewArgs(filters.Arg("label!", VolumeAnonymousLabel)), false, "data,db-data"},
		{filters.NewArgs(filters.Arg("label", "tier"), filters.Arg("label!", "com.docker.compose.project"), filters.Arg("all", "true")), true, "4567ef01"},
	}
	for _, c := range cases {
		match, all, err := VolumePruneFilter(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var names []string
		for _, v := range testVolumes() {
			if match(v.Volume) {
				names = append(names, v.Name)
			}
		}
		if got := strings.Join(names, ","); got != c.want || all != c.wantAll {
			t.Errorf("%v: got %q all=%v, want %q all=%v", c.args, got, all, c.want, c.wantAll)
		}
	}
	for _, args := range []filters.Args{
		filters.NewArgs(filters.Arg("dangling", "true")),
		filters.NewArgs(filters.Arg("until", "1h")),
		filters.NewArgs(filters.Arg("all", "maybe")),
		filters.NewArgs(filters.Arg("all", "true"), filters.Arg("all", "false")),
	} {
		if _, _, err := VolumePruneFilter(args); !errdefs.IsInvalidParameter(err) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

package volume

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/engine"
	enginevolume "github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// fakeBackend holds volumes in memory; "used" is mounted by a container.
type fakeBackend struct {
	vols map[string]engine.VolumeInfo
}

func (f *fakeBackend) VolumeCreate(_ context.Context, name, driver string, labels, _ map[string]string) (enginevolume.Volume, error) {
	if driver != "" && driver != "local" {
		return enginevolume.Volume{}, errdefs.NotFoundf("plugin %q not found", driver)
	}
	v := enginevolume.Volume{Name: name, Driver: "local", Mountpoint: "/v/" + name + "/_data", CreatedAt: time.Unix(0, 0), Labels: labels}
	f.vols[name] = engine.VolumeInfo{Volume: v}
	return v, nil
}
func (f *fakeBackend) VolumeList() []engine.VolumeInfo {
	var out []engine.VolumeInfo
	for _, v := range f.vols {
		out = append(out, v)
	}
	return out
}
func (f *fakeBackend) VolumeInspect(name string) (engine.VolumeInfo, error) {
	v, ok := f.vols[name]
	if !ok {
		return v, errdefs.NotFoundf("get %s: no such volume", name)
	}
	return v, nil
}
func (f *fakeBackend) VolumeRemove(_ context.Context, name string, _ bool) error {
	delete(f.vols, name)
	return nil
}
func (f *fakeBackend) VolumePrune(_ context.Context, match func(enginevolume.Volume) bool, all bool) ([]string, uint64, error) {
	var out []string
	for n, v := range f.vols {
		if all && len(v.UsedBy) == 0 && match(v.Volume) {
			out = append(out, n)
		}
	}
	return out, 0, nil
}

func TestVolumeRoutes(t *testing.T) {
	b := &fakeBackend{vols: map[string]engine.VolumeInfo{}}
	r := NewRouter(b)
	do := func(method, url, body string, vars map[string]string, h func(http.ResponseWriter, *http.Request, map[string]string) error) (*httptest.ResponseRecorder, error) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, url, strings.NewReader(body))
		return rec, h(rec, req, vars)
	}
	rec, err := do("POST", "/volumes/create", `{"Name":"data","Labels":{"app":"db"}}`, nil, r.create)
	if err != nil || rec.Code != 201 {
		t.Fatalf("create: %v %d", err, rec.Code)
	}
	var v volume.Volume
	json.Unmarshal(rec.Body.Bytes(), &v)
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels["app"] != "db" || v.CreatedAt != "1970-01-01T00:00:00Z" {
		t.Fatalf("created %+v", v)
	}
	if _, err := do("POST", "/volumes/create", `{"Name":"x","Driver":"nfs"}`, nil, r.create); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := do("POST", "/volumes/create", `{"Name":`, nil, r.create); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad JSON: %v", err)
	}
	b.VolumeCreate(context.Background(), "other", "", nil, nil)
	b.vols["other"] = engine.VolumeInfo{Volume: b.vols["other"].Volume, UsedBy: []string{"c1"}}
	for filter, want := range map[string]int{
		``: 2, `{"name":{"dat":true}}`: 1, `{"label":{"app=db":true}}`: 1, `{"dangling":{"true":true}}`: 1, `{"driver":{"local":true}}`: 2,
	} {
		rec, err := do("GET", "/volumes?filters="+filter, "", nil, r.list)
		var l volume.ListResponse
		json.Unmarshal(rec.Body.Bytes(), &l)
		if err != nil || len(l.Volumes) != want {
			t.Errorf("list %s: %v, %d volumes, want %d", filter, err, len(l.Volumes), want)
		}
	}
	if _, err := do("GET", `/volumes?filters={"bogus":{"x":true}}`, "", nil, r.list); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("unknown filter: %v", err)
	}
	if _, err := do("GET", "/volumes/nope", "", map[string]string{"name": "nope"}, r.inspect); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect unknown: %v", err)
	}
	rec, err = do("POST", `/volumes/prune?filters={"all":{"true":true}}`, "", nil, r.prune)
	var pr volume.PruneReport
	json.Unmarshal(rec.Body.Bytes(), &pr)
	if err != nil || len(pr.VolumesDeleted) != 1 || pr.VolumesDeleted[0] != "data" {
		t.Fatalf("prune: %v %+v", err, pr)
	}
	rec, err = do("DELETE", "/volumes/other", "", map[string]string{"name": "other"}, r.remove)
	if err != nil || rec.Code != 204 {
		t.Fatalf("remove: %v %d", err, rec.Code)
	}
}

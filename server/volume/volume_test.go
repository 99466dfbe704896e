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
	"github.com/pier-vm/pier/server/httputils"
)

// fakeBackend holds volumes in memory and records what prune was asked.
type fakeBackend struct {
	vols      map[string]engine.VolumeInfo
	pruneAll  bool
	removedAs []string
}

func (f *fakeBackend) VolumeCreate(_ context.Context, name, driver string, labels, opts map[string]string) (enginevolume.Volume, error) {
	if driver != "" && driver != "local" {
		return enginevolume.Volume{}, errdefs.NotFoundf("plugin %q not found", driver)
	}
	anon := name == ""
	if anon {
		name = "0123abcd"
	}
	v := enginevolume.Volume{Name: name, Driver: "local", Mountpoint: "/v/" + name + "/_data", CreatedAt: time.Unix(0, 0), Labels: labels, Options: opts, Anonymous: anon}
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
func (f *fakeBackend) VolumeRemove(_ context.Context, name string, force bool) error {
	if _, ok := f.vols[name]; !ok && !force {
		return errdefs.NotFoundf("get %s: no such volume", name)
	}
	delete(f.vols, name)
	f.removedAs = append(f.removedAs, name)
	return nil
}
func (f *fakeBackend) VolumePrune(_ context.Context, match func(enginevolume.Volume) bool, all bool) ([]string, uint64, error) {
	f.pruneAll = all
	out := []string{}
	for n, v := range f.vols {
		if (all || v.Anonymous) && len(v.UsedBy) == 0 && match(v.Volume) {
			out = append(out, n)
		}
	}
	return out, 42, nil
}

type handler = func(http.ResponseWriter, *http.Request, map[string]string) error

func do(apiVersion, method, url, body string, vars map[string]string, h handler) (*httptest.ResponseRecorder, error) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, url, strings.NewReader(body))
	req = req.WithContext(httputils.WithVersion(req.Context(), apiVersion))
	return rec, h(rec, req, vars)
}

func TestVolumeRoutes(t *testing.T) {
	b := &fakeBackend{vols: map[string]engine.VolumeInfo{}}
	r := NewRouter(b)
	rec, err := do("1.51", "POST", "/volumes/create", `{"Name":"data","Labels":{"app":"db"},"DriverOpts":{}}`, nil, r.create)
	if err != nil || rec.Code != 201 {
		t.Fatalf("create: %v %d", err, rec.Code)
	}
	var v volume.Volume
	json.Unmarshal(rec.Body.Bytes(), &v)
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels["app"] != "db" || v.CreatedAt != "1970-01-01T00:00:00Z" || v.Options == nil {
		t.Fatalf("created %+v", v)
	}
	// An empty body creates an anonymous volume, as dockerd.
	rec, err = do("1.51", "POST", "/volumes/create", ``, nil, r.create)
	if err != nil || rec.Code != 201 || !strings.Contains(rec.Body.String(), `"Labels":{"com.docker.volume.anonymous":""}`) {
		t.Fatalf("anonymous create: %v %d %s", err, rec.Code, rec.Body)
	}
	if _, err := do("1.51", "POST", "/volumes/create", `{"Name":"x","Driver":"nfs"}`, nil, r.create); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := do("1.51", "POST", "/volumes/create", `{"Name":`, nil, r.create); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad JSON: %v", err)
	}
	b.VolumeCreate(context.Background(), "other", "", nil, nil)
	b.vols["other"] = engine.VolumeInfo{Volume: b.vols["other"].Volume, UsedBy: []string{"c1"}}
	for filter, want := range map[string]int{
		``: 3, `{"name":{"dat":true}}`: 1, `{"label":{"app=db":true}}`: 1, `{"dangling":{"true":true}}`: 2, `{"driver":{"local":true}}`: 3,
		`{"label":{"com.docker.volume.anonymous":true}}`: 1, `{"name":["other"]}`: 1,
	} {
		rec, err := do("1.51", "GET", "/volumes?filters="+filter, "", nil, r.list)
		var l volume.ListResponse
		json.Unmarshal(rec.Body.Bytes(), &l)
		if err != nil || len(l.Volumes) != want {
			t.Errorf("list %s: %v, %d volumes, want %d", filter, err, len(l.Volumes), want)
		}
	}
	rec, _ = do("1.51", "GET", `/volumes?filters={"name":{"nothing":true}}`, "", nil, r.list)
	if rec.Body.String() != "{\"Volumes\":[],\"Warnings\":null}\n" {
		t.Errorf("empty list: %s", rec.Body)
	}
	if _, err := do("1.51", "GET", `/volumes?filters={"bogus":{"x":true}}`, "", nil, r.list); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("unknown filter: %v", err)
	}
	if _, err := do("1.51", "GET", `/volumes?filters=nope`, "", nil, r.list); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad filters: %v", err)
	}
	rec, err = do("1.51", "GET", "/volumes/other", "", map[string]string{"name": "other"}, r.inspect)
	if err != nil || rec.Code != 200 || !strings.Contains(rec.Body.String(), `"Name":"other"`) || strings.Contains(rec.Body.String(), "UsageData") {
		t.Fatalf("inspect: %v %d %s", err, rec.Code, rec.Body)
	}
	if _, err := do("1.51", "GET", "/volumes/nope", "", map[string]string{"name": "nope"}, r.inspect); !errdefs.IsNotFound(err) {
		t.Fatalf("inspect unknown: %v", err)
	}

	// Prune: anonymous volumes only since API 1.42, everything unused
	// before (or with all=true).
	rec, err = do("1.51", "POST", `/volumes/prune`, "", nil, r.prune)
	var pr volume.PruneReport
	json.Unmarshal(rec.Body.Bytes(), &pr)
	if err != nil || b.pruneAll || len(pr.VolumesDeleted) != 1 || pr.VolumesDeleted[0] != "0123abcd" || pr.SpaceReclaimed != 42 {
		t.Fatalf("prune: %v all=%v %+v", err, b.pruneAll, pr)
	}
	rec, err = do("1.41", "POST", `/volumes/prune?filters={"label":{"app":true}}`, "", nil, r.prune)
	pr = volume.PruneReport{}
	json.Unmarshal(rec.Body.Bytes(), &pr)
	if err != nil || !b.pruneAll || len(pr.VolumesDeleted) != 1 || pr.VolumesDeleted[0] != "data" {
		t.Fatalf("prune, API 1.41: %v all=%v %+v", err, b.pruneAll, pr)
	}
	if _, err = do("1.51", "POST", `/volumes/prune?filters={"all":{"true":true}}`, "", nil, r.prune); err != nil || !b.pruneAll {
		t.Fatalf("prune all: %v all=%v", err, b.pruneAll)
	}
	if _, err = do("1.51", "POST", `/volumes/prune?filters={"until":{"1h":true}}`, "", nil, r.prune); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("prune with a filter it does not know: %v", err)
	}

	rec, err = do("1.51", "DELETE", "/volumes/other", "", map[string]string{"name": "other"}, r.remove)
	if err != nil || rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("remove: %v %d", err, rec.Code)
	}
	if _, err = do("1.51", "DELETE", "/volumes/other", "", map[string]string{"name": "other"}, r.remove); !errdefs.IsNotFound(err) {
		t.Fatalf("remove again: %v", err)
	}
	if rec, err = do("1.51", "DELETE", "/volumes/other?force=1", "", map[string]string{"name": "other"}, r.remove); err != nil || rec.Code != 204 {
		t.Fatalf("forced remove of a missing volume: %v %d", err, rec.Code)
	}
}

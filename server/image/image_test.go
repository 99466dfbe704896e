package image

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/pier-vm/pier/engine"
	engineimage "github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server"
)

// fakeImages is an image service that records what it was asked and
// replays scripted progress and errors.
type fakeImages struct {
	engineimage.API // methods a test does not script panic if reached

	pulledRef  string
	pulledPlat *platform.Platform
	pulledAuth *engineimage.Auth
	progress   []engineimage.Progress
	pullErr    error

	images  []*engineimage.Image
	tagged  [3]string
	removed []string

	pruned    []bool // danglingOnly of each prune
	pruneOpts []engine.PruneOptions

	imported     engine.ImportOptions
	importedData string

	saveOut string // written by Save before it fails with saveErr
	saveErr error
}

func (f *fakeImages) Save(_ context.Context, _ []string, w io.Writer) error {
	if f.saveOut != "" {
		io.WriteString(w, f.saveOut)
	}
	return f.saveErr
}

func (f *fakeImages) Pull(_ context.Context, ref string, plat *platform.Platform, auth *engineimage.Auth, progress func(engineimage.Progress)) (*engineimage.Image, error) {
	f.pulledRef, f.pulledPlat, f.pulledAuth = ref, plat, auth
	for _, p := range f.progress {
		progress(p)
	}
	if f.pullErr != nil {
		return nil, f.pullErr
	}
	return &engineimage.Image{ID: "sha256:abc"}, nil
}

func (f *fakeImages) List() ([]*engineimage.Image, error) { return f.images, nil }

func (f *fakeImages) Tag(source, repo, tag string) error {
	f.tagged = [3]string{source, repo, tag}
	return nil
}

func (f *fakeImages) Resolve(ref string, _ *platform.Platform) (*engineimage.Image, error) {
	for _, img := range f.images {
		for _, t := range img.RepoTags {
			if t == ref {
				return img, nil
			}
		}
	}
	return nil, errdefs.NotFoundf("No such image: %s", ref)
}

type fakeBackend struct{ images *fakeImages }

func (b fakeBackend) Images() engineimage.API { return b.images }

func (b fakeBackend) ImageRemove(ref string, _, _ bool) ([]engineimage.DeleteItem, error) {
	b.images.removed = append(b.images.removed, ref)
	return []engineimage.DeleteItem{{Untagged: ref}, {Deleted: "sha256:abc"}}, nil
}

func (b fakeBackend) ImagePrune(danglingOnly bool, opts engine.PruneOptions) ([]engineimage.DeleteItem, int64, error) {
	b.images.pruned = append(b.images.pruned, danglingOnly)
	b.images.pruneOpts = append(b.images.pruneOpts, opts)
	return []engineimage.DeleteItem{{Deleted: "sha256:abc"}}, 42, nil
}

func (b fakeBackend) ImageImport(_ context.Context, opts engine.ImportOptions) (string, error) {
	data, err := io.ReadAll(opts.Source)
	if err != nil {
		return "", err
	}
	b.images.imported, b.images.importedData = opts, string(data)
	return "sha256:1mp0rted", nil
}

func serve(t *testing.T, f *fakeImages, method, target string, header http.Header) *http.Response {
	t.Helper()
	s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRouter(fakeBackend{images: f}))
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func errorMessage(t *testing.T, res *http.Response) string {
	t.Helper()
	var m struct{ Message string }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	return m.Message
}

func streamLines(t *testing.T, res *http.Response) []jsonmessage.JSONMessage {
	t.Helper()
	var out []jsonmessage.JSONMessage
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var m jsonmessage.JSONMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stream line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestPullJoinsTagOrDigestAndParsesPlatformAndAuth(t *testing.T) {
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"r:5000"}`))
	cases := []struct{ query, wantRef string }{
		{"fromImage=127.0.0.1:5000/pier-test/busybox&tag=1", "127.0.0.1:5000/pier-test/busybox:1"},
		{"fromImage=busybox&tag=sha256:0123", "busybox@sha256:0123"},
		{"fromImage=busybox:1.36", "busybox:1.36"},
	}
	for _, c := range cases {
		f := &fakeImages{progress: []engineimage.Progress{{ID: "1", Status: "Pulling from pier-test/busybox"}}}
		res := serve(t, f, http.MethodPost, "/v1.41/images/create?"+c.query+"&platform=linux/arm64", http.Header{"X-Registry-Auth": {auth}})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", c.query, res.StatusCode)
		}
		if f.pulledRef != c.wantRef {
			t.Errorf("%s: pulled %q, want %q", c.query, f.pulledRef, c.wantRef)
		}
		if f.pulledPlat == nil || f.pulledPlat.String() != "linux/arm64/v8" {
			t.Errorf("%s: platform %v, want linux/arm64/v8", c.query, f.pulledPlat)
		}
		if f.pulledAuth == nil || f.pulledAuth.Username != "u" || f.pulledAuth.Password != "p" || f.pulledAuth.ServerAddress != "r:5000" {
			t.Errorf("%s: auth %+v", c.query, f.pulledAuth)
		}
	}
}

func TestPullBadPlatformIs400BeforeAnyPull(t *testing.T) {
	for _, p := range []string{"windows/amd64", "linux/riscv64", "linux//"} {
		f := &fakeImages{}
		res := serve(t, f, http.MethodPost, "/images/create?fromImage=busybox&tag=latest&platform="+url.QueryEscape(p), nil)
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("platform %q: status %d, want 400", p, res.StatusCode)
		}
		if msg := errorMessage(t, res); !strings.Contains(msg, p) {
			t.Errorf("platform %q: message %q does not name it", p, msg)
		}
		if f.pulledRef != "" {
			t.Errorf("platform %q: the pull ran anyway", p)
		}
	}
}

func TestPullErrorBeforeFirstLineIsAPlainStatus(t *testing.T) {
	f := &fakeImages{pullErr: errdefs.NotFoundf("repository 127.0.0.1:5000/nope not found")}
	res := serve(t, f, http.MethodPost, "/images/create?fromImage=127.0.0.1:5000/nope&tag=latest", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	if msg := errorMessage(t, res); msg != "repository 127.0.0.1:5000/nope not found" {
		t.Errorf("message %q", msg)
	}
}

func TestPullErrorAfterFirstLineTravelsInTheStream(t *testing.T) {
	f := &fakeImages{
		progress: []engineimage.Progress{
			{ID: "latest", Status: "Pulling from pier-test/busybox"},
			{ID: "a1b2c3", Status: "Downloading", Current: 10, Total: 100},
		},
		pullErr: errors.New("unexpected EOF"),
	}
	res := serve(t, f, http.MethodPost, "/images/create?fromImage=busybox&tag=latest", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := streamLines(t, res)
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %+v", len(lines), lines)
	}
	if p := lines[1].Progress; p == nil || p.Current != 10 || p.Total != 100 || lines[1].ID != "a1b2c3" {
		t.Errorf("progress line %+v", lines[1])
	}
	last := lines[2]
	if last.Error == nil || last.Error.Message != "unexpected EOF" || last.ErrorMessage != "unexpected EOF" {
		t.Errorf("last line %+v, want errorDetail and error", last)
	}
}

func TestListHidesDanglingUnlessAsked(t *testing.T) {
	f := &fakeImages{images: []*engineimage.Image{
		{ID: "sha256:tagged", RepoTags: []string{"busybox:latest"}},
		{ID: "sha256:dangling"},
	}}
	list := func(query string) []string {
		res := serve(t, f, http.MethodGet, "/images/json?"+query, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", query, res.StatusCode)
		}
		var out []imagetypes.Summary
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, s := range out {
			ids = append(ids, s.ID)
		}
		return ids
	}
	if got := strings.Join(list(""), ","); got != "sha256:tagged" {
		t.Errorf("default list %q", got)
	}
	if got := strings.Join(list("all=1"), ","); got != "sha256:tagged,sha256:dangling" {
		t.Errorf("all=1 list %q", got)
	}
	dangling := url.QueryEscape(`{"dangling":{"true":true}}`)
	if got := strings.Join(list("filters="+dangling), ","); got != "sha256:dangling" {
		t.Errorf("dangling=true list %q", got)
	}
	res := serve(t, f, http.MethodGet, "/images/json?filters="+url.QueryEscape(`{"color":{"red":true}}`), nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown filter: status %d, want 400", res.StatusCode)
	}
}

func TestTagRemoveAndInspectNamesWithSlashes(t *testing.T) {
	f := &fakeImages{images: []*engineimage.Image{{ID: "sha256:abc", RepoTags: []string{"127.0.0.1:5000/pier-test/busybox:1"}}}}
	res := serve(t, f, http.MethodPost, "/v1.41/images/127.0.0.1:5000/pier-test/busybox:1/tag?repo=mine/bb&tag=v2", nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("tag: status %d, want 201", res.StatusCode)
	}
	if f.tagged != [3]string{"127.0.0.1:5000/pier-test/busybox:1", "mine/bb", "v2"} {
		t.Errorf("tag args %q", f.tagged)
	}
	res = serve(t, f, http.MethodGet, "/v1.41/images/127.0.0.1:5000/pier-test/busybox:1/json", nil)
	var insp imagetypes.InspectResponse
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&insp) != nil || insp.ID != "sha256:abc" {
		t.Errorf("inspect: status %d, %+v", res.StatusCode, insp)
	}
	res = serve(t, f, http.MethodGet, "/images/nope:1/json", nil)
	if res.StatusCode != http.StatusNotFound || errorMessage(t, res) != "No such image: nope:1" {
		t.Errorf("inspect of a missing image: status %d", res.StatusCode)
	}
	res = serve(t, f, http.MethodDelete, "/images/127.0.0.1:5000/pier-test/busybox:1?force=1", nil)
	var items []imagetypes.DeleteResponse
	if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&items) != nil || len(items) != 2 || items[1].Deleted != "sha256:abc" {
		t.Errorf("delete: status %d, %+v", res.StatusCode, items)
	}
	if len(f.removed) != 1 || f.removed[0] != "127.0.0.1:5000/pier-test/busybox:1" {
		t.Errorf("removed %q", f.removed)
	}
}

func TestSaveErrorBeforeFirstByteIsAStatusAfterItATruncatedTar(t *testing.T) {
	img := &engineimage.Image{ID: "sha256:abc", RepoTags: []string{"busybox:latest"}}
	f := &fakeImages{images: []*engineimage.Image{img}, saveErr: errdefs.Unavailable(errors.New("store offline"))}
	res := serve(t, f, http.MethodGet, "/images/get?names=busybox:latest", nil)
	if res.StatusCode != http.StatusServiceUnavailable || errorMessage(t, res) != "store offline" {
		t.Fatalf("error before the first byte: status %d", res.StatusCode)
	}
	f.saveOut = "partial-tar"
	res = serve(t, f, http.MethodGet, "/images/busybox:latest/get", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-tar" || string(body) != "partial-tar" {
		t.Fatalf("error after the first byte: status %d, type %q, body %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res = serve(t, f, http.MethodGet, "/images/get?names=nope:latest", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown image: status %d", res.StatusCode)
	}
}

func TestPruneHonoursDanglingUntilAndLabels(t *testing.T) {
	f := &fakeImages{}
	res := serve(t, f, http.MethodPost, "/images/prune", nil)
	var rep imagetypes.PruneReport
	if err := json.NewDecoder(res.Body).Decode(&rep); err != nil || res.StatusCode != http.StatusOK || rep.SpaceReclaimed != 42 || len(rep.ImagesDeleted) != 1 {
		t.Fatalf("prune: status %d, report %+v, %v", res.StatusCode, rep, err)
	}
	before := time.Now()
	q := `{"dangling":["false"],"until":["24h"],"label":["team=blue"],"label!":["keep"]}`
	if res := serve(t, f, http.MethodPost, "/images/prune?filters="+url.QueryEscape(q), nil); res.StatusCode != http.StatusOK {
		t.Fatalf("prune with filters: %d %s", res.StatusCode, errorMessage(t, res))
	}
	if len(f.pruned) != 2 || !f.pruned[0] || f.pruned[1] {
		t.Fatalf("danglingOnly per prune: %v, want [true false]", f.pruned)
	}
	opts := f.pruneOpts[1]
	if d := before.Add(-24 * time.Hour).Sub(opts.Until); d > time.Second || d < -time.Second ||
		strings.Join(opts.Labels, ",") != "team=blue" || strings.Join(opts.NotLabels, ",") != "keep" {
		t.Fatalf("prune options %+v", opts)
	}
	for q, want := range map[string]string{
		`{"color":["red"]}`:      "invalid filter 'color'",
		`{"until":["someday"]}`:  "someday",
		`{"until":["1h","2h"]}`:  "more than one until filter specified",
		`{"dangling":["maybe"]}`: "maybe",
	} {
		res := serve(t, f, http.MethodPost, "/images/prune?filters="+url.QueryEscape(q), nil)
		if msg := errorMessage(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(msg, want) {
			t.Errorf("%s: status %d %q, want 400 with %q", q, res.StatusCode, msg, want)
		}
	}
	if len(f.pruned) != 2 {
		t.Fatalf("a refused prune ran: %v", f.pruned)
	}
}

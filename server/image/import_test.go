package image

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/pier-vm/pier/server"
)

// docker import through the API: the body or a URL's content reaches the
// engine with the tag, message, changes and platform; the answer is one
// status line with the ID; bad names, platforms and sources are JSON
// errors before anything is imported.
func TestImportThroughTheAPI(t *testing.T) {
	tarballs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/root.tar" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "from the web")
	}))
	defer tarballs.Close()
	post := func(f *fakeImages, query, body string) *http.Response {
		s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRouter(fakeBackend{images: f}))
		req := httptest.NewRequest(http.MethodPost, "/v1.51/images/create?"+query, strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec.Result()
	}

	f := &fakeImages{}
	res := post(f, "fromSrc=-&repo=imp&tag=v1&message=hi&changes=ENV+A%3Db&changes=CMD+x&platform=linux/arm64", "the tarball")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %s", res.StatusCode, errorMessage(t, res))
	}
	var m jsonmessage.JSONMessage
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.Status != "sha256:1mp0rted" {
		t.Fatalf("answer %+v, %v", m, err)
	}
	got := f.imported
	if f.importedData != "the tarball" || got.SourceName != "-" || got.Tag != "imp:v1" || got.Message != "hi" ||
		strings.Join(got.Changes, "|") != "ENV A=b|CMD x" || got.Platform.String() != "linux/arm64/v8" {
		t.Fatalf("engine got %+v with %q", got, f.importedData)
	}

	f = &fakeImages{}
	if res := post(f, "fromSrc="+tarballs.URL+"/root.tar", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("import from a URL: %d %s", res.StatusCode, errorMessage(t, res))
	}
	if f.importedData != "from the web" || f.imported.Tag != "" || f.imported.SourceName != tarballs.URL+"/root.tar" {
		t.Fatalf("import from a URL: %+v with %q", f.imported, f.importedData)
	}
	f = &fakeImages{}
	if res := post(f, "fromSrc="+strings.TrimPrefix(tarballs.URL, "http://")+"/root.tar", ""); res.StatusCode != http.StatusOK || f.importedData != "from the web" {
		t.Fatalf("import from a URL without a scheme: %d, %q", res.StatusCode, f.importedData)
	}

	for _, c := range []struct {
		query  string
		status int
		want   string
	}{
		{"fromSrc=-&repo=Bad+Name", 400, "invalid reference format"},
		{"fromSrc=-&repo=imp@sha256:" + strings.Repeat("a", 64), 400, "cannot import digest reference"},
		{"fromSrc=-&repo=imp&tag=bad:tag", 400, "invalid tag format"},
		{"fromSrc=-&platform=windows/amd64", 400, "operating system \"windows\" is not supported"},
		{"fromSrc=ftp://host/x.tar", 400, "want -, or an http or https URL"},
		{"fromSrc=" + tarballs.URL + "/missing.tar", 500, "failed to GET " + tarballs.URL + "/missing.tar with status 404 Not Found"},
	} {
		f := &fakeImages{}
		res := post(f, c.query, "x")
		if msg := errorMessage(t, res); res.StatusCode != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d with %q", c.query, res.StatusCode, msg, c.status, c.want)
		}
		if f.importedData != "" {
			t.Errorf("%s: imported %q", c.query, f.importedData)
		}
	}
}

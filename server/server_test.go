package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
	"github.com/pier-vm/pier/version"
)

// testRouter exposes routes that echo the negotiated version, fail with a
// given class, or answer 304.
type testRouter struct{}

func (testRouter) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/echo", Handler: func(w http.ResponseWriter, r *http.Request, _ map[string]string) error {
			return httputils.WriteJSON(w, http.StatusOK, map[string]string{"version": httputils.VersionFromContext(r.Context())})
		}},
		{Method: http.MethodGet, Path: "/things/{name:.*}/json", Handler: func(w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
			return httputils.WriteJSON(w, http.StatusOK, map[string]string{"name": vars["name"]})
		}},
		{Method: http.MethodPost, Path: "/conflict", Handler: func(http.ResponseWriter, *http.Request, map[string]string) error {
			return errdefs.Conflictf("already there")
		}},
		{Method: http.MethodPost, Path: "/same", Handler: func(http.ResponseWriter, *http.Request, map[string]string) error {
			return errdefs.NotModified(errors.New("already started"))
		}},
		{Method: http.MethodGet, Path: "/boom", Handler: func(http.ResponseWriter, *http.Request, map[string]string) error {
			return errors.New("unclassified")
		}},
	}
}

func do(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), testRouter{})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func message(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return m.Message
}

func TestVersionNegotiation(t *testing.T) {
	cases := []struct {
		path       string
		wantStatus int
		want       string // negotiated version, or error message
	}{
		{"/echo", 200, version.MaxAPIVersion},
		{"/v1.51/echo", 200, "1.51"},
		{"/v1.41/echo", 200, "1.41"},
		{"/v1.24/echo", 200, "1.24"},
		{"/v1.52/echo", 400, "client version 1.52 is too new. Maximum supported API version is 1.51"},
		{"/v1.20/echo", 400, "client version 1.20 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1.2.3/echo", 400, `invalid API version "1.2.3": want MAJOR.MINOR`},
	}
	for _, c := range cases {
		res, body := do(t, http.MethodGet, c.path)
		if res.StatusCode != c.wantStatus {
			t.Errorf("%s: status %d, want %d (%s)", c.path, res.StatusCode, c.wantStatus, body)
			continue
		}
		if c.wantStatus == 200 {
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil || got["version"] != c.want {
				t.Errorf("%s: negotiated %q (%v), want %q", c.path, got["version"], err, c.want)
			}
		} else if got := message(t, body); got != c.want {
			t.Errorf("%s: message %q, want %q", c.path, got, c.want)
		}
	}
}

func TestCommonHeadersOnSuccessAndError(t *testing.T) {
	for _, path := range []string{"/echo", "/v1.99/echo", "/nope"} {
		res, _ := do(t, http.MethodGet, path)
		want := map[string]string{
			"Api-Version":         version.MaxAPIVersion,
			"Ostype":              "linux",
			"Server":              "pier/" + version.Version,
			"Docker-Experimental": "false",
		}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestUnknownRouteIsPageNotFound(t *testing.T) {
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/nope"},
		{http.MethodGet, "/v1.41/nope"},
		{http.MethodDelete, "/echo"}, // known path, unknown method
	} {
		res, body := do(t, c.method, c.path)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", c.method, c.path, res.StatusCode)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", c.method, c.path, ct)
		}
		if got := message(t, body); got != "page not found" {
			t.Errorf("%s %s: message %q, want page not found", c.method, c.path, got)
		}
	}
}

func TestErrorClassesBecomeStatuses(t *testing.T) {
	res, body := do(t, http.MethodPost, "/v1.41/conflict")
	if res.StatusCode != http.StatusConflict || message(t, body) != "already there" {
		t.Errorf("conflict: %d %q", res.StatusCode, body)
	}
	res, body = do(t, http.MethodGet, "/boom")
	if res.StatusCode != http.StatusInternalServerError || message(t, body) != "unclassified" {
		t.Errorf("unclassified: %d %q", res.StatusCode, body)
	}
	res, body = do(t, http.MethodPost, "/same")
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("not modified: %d %q, want 304 without body", res.StatusCode, body)
	}
}

func TestNamesWithSlashesReachTheHandler(t *testing.T) {
	for _, path := range []string{
		"/things/127.0.0.1:5000/pier-test/busybox:1/json",
		"/v1.41/things/127.0.0.1:5000/pier-test/busybox:1/json",
	} {
		res, body := do(t, http.MethodGet, path)
		if res.StatusCode != 200 || !strings.Contains(body, `"127.0.0.1:5000/pier-test/busybox:1"`) {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
}

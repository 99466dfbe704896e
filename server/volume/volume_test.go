package volume

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestVolumesAreEmptyAndCreateIsRefused(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, `/volumes?filters={"label":{"com.docker.compose.project=p":true}}`, nil)
	if err := list(rec, req, nil); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Body.String() != "{\"Volumes\":[],\"Warnings\":null}\n" {
		t.Fatalf("list: %d %q", rec.Code, rec.Body.String())
	}
	if err := list(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/volumes?filters=nope", nil), nil); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad filters: %v", err)
	}
	if err := inspect(nil, nil, map[string]string{"name": "data"}); !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Fatalf("inspect: %v", err)
	}
	if err := remove(nil, nil, map[string]string{"name": "data"}); !errdefs.IsNotFound(err) {
		t.Fatalf("remove: %v", err)
	}
	if err := create(nil, nil, nil); errdefs.KindOf(err) != errdefs.KindNotImplemented {
		t.Fatalf("create: %v", err)
	}
	rec = httptest.NewRecorder()
	if err := prune(rec, httptest.NewRequest(http.MethodPost, "/volumes/prune", nil), nil); err != nil || rec.Code != 200 {
		t.Fatalf("prune: %v %d", err, rec.Code)
	}
}

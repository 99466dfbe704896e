package build

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pier-vm/pier/server"
)

func TestBuildPruneOfTheEmptyCache(t *testing.T) {
	s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRouter(nil))
	for _, c := range []struct {
		target string
		code   int
		body   string
	}{
		{"/v1.51/build/prune?all=1", 200, `{"CachesDeleted":null,"SpaceReclaimed":0}`},
		{`/v1.51/build/prune?filters={"until":{"24h":true}}`, 200, `{"CachesDeleted":null,"SpaceReclaimed":0}`},
		{"/v1.51/build/prune?filters=nonsense", 400, `"message":`},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, c.target, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s: %d %s, want %d %s", c.target, rec.Code, rec.Body, c.code, c.body)
		}
	}
}

package testregistry

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// fault is what happens to blob downloads of one repository.
type fault int

const (
	corrupt  fault = iota + 1 // right size, wrong bytes
	truncate                  // the connection drops half-way
)

// CorruptBlobs makes later blob downloads (GET /v2/pier-test/<name>/blobs/…)
// return the right number of bytes with the second half garbled, so the
// transfer succeeds and only digest verification can catch it.
// Manifests and HEAD requests stay intact.
func (r *Registry) CorruptBlobs(name string) { r.setFault(name, corrupt) }

// TruncateBlobs makes later blob downloads of pier-test/<name> announce the
// full Content-Length, send half of it and drop the connection.
func (r *Registry) TruncateBlobs(name string) { r.setFault(name, truncate) }

func (r *Registry) setFault(name string, f fault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broken[Namespace+"/"+name] = f
}

func (r *Registry) fault(repo string) fault {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broken[repo]
}

// faults wraps the registry handler with the fault injection.
func (r *Registry) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo, ok := blobRepo(req.URL.Path)
		if req.Method != http.MethodGet || !ok || r.fault(repo) == 0 {
			next.ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		if rec.Code != http.StatusOK {
			_, _ = w.Write(body)
			return
		}
		half := len(body) / 2
		switch r.fault(repo) {
		case corrupt:
			bad := make([]byte, len(body))
			copy(bad, body)
			for i := half; i < len(bad); i++ {
				bad[i] ^= 0xff
			}
			_, _ = w.Write(bad)
		case truncate:
			// Short of the announced length: net/http closes the connection.
			_, _ = w.Write(body[:half])
		}
	})
}

// blobRepo returns the repository of a "/v2/<repo>/blobs/<digest>" path.
func blobRepo(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", false
	}
	i := strings.LastIndex(rest, "/blobs/")
	if i <= 0 || strings.Contains(rest[i+len("/blobs/"):], "/") {
		return "", false
	}
	return rest[:i], true
}

// DownAddr returns "127.0.0.1:PORT" where nothing listens: the port was
// free a moment ago and is closed again, so connections are refused.
func DownAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	return addr
}

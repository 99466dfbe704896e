package httputils

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/docker/docker/pkg/jsonmessage"
)

// JSONStream writes a streamed answer of jsonmessage lines (pulls,
// pushes, loads, builds), sending the 200 header only with the first
// message, so that an error found before any output is still a plain
// error response. It is safe for concurrent use.
type JSONStream struct {
	w       http.ResponseWriter
	mu      sync.Mutex
	started bool
}

// NewJSONStream returns a stream answering on w.
func NewJSONStream(w http.ResponseWriter) *JSONStream { return &JSONStream{w: w} }

// Write sends m (and the header first, with the first message).
func (p *JSONStream) Write(m jsonmessage.JSONMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(http.StatusOK)
		p.started = true
	}
	json.NewEncoder(p.w).Encode(m)
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Started says whether the 200 went out.
func (p *JSONStream) Started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Fail reports err in the stream (errorDetail) when the stream has begun
// and returns nil; before that it hands err back for a plain error
// response.
func (p *JSONStream) Fail(err error) error {
	if err == nil || !p.Started() {
		return err
	}
	p.Write(jsonmessage.JSONMessage{Error: &jsonmessage.JSONError{Message: err.Error()}, ErrorMessage: err.Error()})
	return nil
}

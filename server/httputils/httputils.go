// Package httputils holds what every resource router of the server shares:
// the Route type, the API version stored in the request context, and small
// helpers to read forms and write JSON.
package httputils

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/pier-vm/pier/errdefs"
)

// HandlerFunc handles one API request. It returns an error instead of writing
// one: the server turns errors into Docker-shaped responses in one place
// (errors carry their class from package errdefs). Once a handler has
// written the status line it must report later errors in its stream.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, vars map[string]string) error

// Route is one method + path (gorilla/mux syntax, without the /vX.Y prefix).
type Route struct {
	Method  string
	Path    string
	Handler HandlerFunc
	// Upload says the body is a stream of any size (a tar archive, an
	// image archive) rather than a JSON document, so the server does not
	// bound it by MaxBodySize.
	Upload bool
}

// MaxBodySize bounds every request body but an upload's: a JSON document
// larger than this is refused (413) instead of being buffered whole.
const MaxBodySize = 8 << 20

// Router is a resource router: a set of routes over a backend.
type Router interface {
	Routes() []Route
}

type versionKey struct{}

// WithVersion stores the negotiated API version in ctx.
func WithVersion(ctx context.Context, version string) context.Context {
	return context.WithValue(ctx, versionKey{}, version)
}

// VersionFromContext returns the negotiated API version ("1.51"), or "" when
// none was stored.
func VersionFromContext(ctx context.Context) string {
	v, _ := ctx.Value(versionKey{}).(string)
	return v
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// BoolValue reads a boolean query parameter the way dockerd does: absent,
// "", "0", "no", "false" and "none" are false; anything else is true.
func BoolValue(r *http.Request, key string) bool {
	s := strings.ToLower(strings.TrimSpace(r.FormValue(key)))
	return !(s == "" || s == "0" || s == "no" || s == "false" || s == "none")
}

// ReadJSON decodes a JSON request body into out, as dockerd does: an empty
// body leaves out as it is; malformed JSON, or more than one value, is an
// invalid parameter.
func ReadJSON(r *http.Request, out any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.InvalidParameterf("invalid JSON: got EOF while reading request body")
		}
		return errdefs.InvalidParameterf("invalid JSON: %v", err)
	}
	if dec.More() {
		return errdefs.InvalidParameterf("unexpected content after JSON")
	}
	return nil
}

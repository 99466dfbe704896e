package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/docker/docker/api/types"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httpstatus"
)

// errPageNotFound is what dockerd answers for a route it does not know.
var errPageNotFound = errdefs.NotFound(errors.New("page not found"))

// writeError writes err as dockerd does: the status from its class and a
// {"message": "..."} body (none for 304).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := httpstatus.FromError(err)
	if status >= http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "uri", r.URL.RequestURI(), "status", status, "err", err)
	} else {
		s.log.Debug("request refused", "method", r.Method, "uri", r.URL.RequestURI(), "status", status, "err", err)
	}
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(types.ErrorResponse{Message: err.Error()})
}

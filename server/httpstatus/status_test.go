package httpstatus

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestFromError(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		err  error
		want int
	}{
		{errdefs.NotFound(base), http.StatusNotFound},
		{errdefs.Conflict(base), http.StatusConflict},
		{errdefs.InvalidParameter(base), http.StatusBadRequest},
		{errdefs.NotModified(base), http.StatusNotModified},
		{errdefs.Unavailable(base), http.StatusServiceUnavailable},
		{errdefs.Forbidden(base), http.StatusForbidden},
		{errdefs.NotImplemented(base), http.StatusNotImplemented},
		{errdefs.Unauthorized(base), http.StatusUnauthorized},
		{fmt.Errorf("wrapped: %w", errdefs.NotFound(base)), http.StatusNotFound},
		{base, http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := FromError(c.err); got != c.want {
			t.Errorf("FromError(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

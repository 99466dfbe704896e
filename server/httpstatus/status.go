// Package httpstatus is the one place where an error's class (package errdefs)
// becomes an HTTP status code.
package httpstatus

import (
	"errors"
	"net/http"

	"github.com/pier-vm/pier/errdefs"
)

// FromError returns the HTTP status for err: a body over the server's
// limit is 413, else its errdefs class decides, and anything unclassified
// is an internal server error.
func FromError(err error) int {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	switch errdefs.KindOf(err) {
	case errdefs.KindNotFound:
		return http.StatusNotFound
	case errdefs.KindConflict:
		return http.StatusConflict
	case errdefs.KindInvalidParameter:
		return http.StatusBadRequest
	case errdefs.KindNotModified:
		return http.StatusNotModified
	case errdefs.KindUnavailable:
		return http.StatusServiceUnavailable
	case errdefs.KindForbidden:
		return http.StatusForbidden
	case errdefs.KindNotImplemented:
		return http.StatusNotImplemented
	case errdefs.KindUnauthorized:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

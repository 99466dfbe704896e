// Package httpstatus is the one place where an error's class (package errdefs)
// becomes an HTTP status code.
package httpstatus

import (
	"net/http"

	"github.com/pier-vm/pier/errdefs"
)

// FromError returns the HTTP status for err: its errdefs class decides, and
// anything unclassified is an internal server error.
func FromError(err error) int {
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

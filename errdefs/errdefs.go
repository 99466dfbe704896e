// Package errdefs classifies errors by behaviour (not found, conflict, invalid
// parameter, ...). Every layer wraps its errors with these helpers; the server
// turns the class into an HTTP status in exactly one place.
package errdefs

import (
	"errors"
	"fmt"
)

// Kind is the behavioural class of an error.
type Kind int

// The kinds of error the server knows how to map to a status code.
const (
	KindUnknown Kind = iota
	KindNotFound
	KindConflict
	KindInvalidParameter
	KindNotModified
	KindUnavailable
	KindForbidden
	KindNotImplemented
	KindUnauthorized
)

type classified struct {
	kind Kind
	err  error
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

func wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &classified{kind: k, err: err}
}

// NotFound marks err as "the thing asked for does not exist" (404).
func NotFound(err error) error { return wrap(KindNotFound, err) }

// Conflict marks err as "the request conflicts with the current state" (409).
func Conflict(err error) error { return wrap(KindConflict, err) }

// InvalidParameter marks err as "the request is malformed or unsupported" (400).
func InvalidParameter(err error) error { return wrap(KindInvalidParameter, err) }

// NotModified marks err as "nothing to do, already in that state" (304).
func NotModified(err error) error { return wrap(KindNotModified, err) }

// Unavailable marks err as "a needed service cannot be reached" (503).
func Unavailable(err error) error { return wrap(KindUnavailable, err) }

// Forbidden marks err as "not allowed" (403).
func Forbidden(err error) error { return wrap(KindForbidden, err) }

// NotImplemented marks err as "this daemon does not do that" (501).
func NotImplemented(err error) error { return wrap(KindNotImplemented, err) }

// Unauthorized marks err as "the credentials were refused" (401).
func Unauthorized(err error) error { return wrap(KindUnauthorized, err) }

// Formatted constructors, for brevity at call sites.

// NotFoundf is NotFound(fmt.Errorf(...)).
func NotFoundf(format string, a ...any) error { return NotFound(fmt.Errorf(format, a...)) }

// Conflictf is Conflict(fmt.Errorf(...)).
func Conflictf(format string, a ...any) error { return Conflict(fmt.Errorf(format, a...)) }

// InvalidParameterf is InvalidParameter(fmt.Errorf(...)).
func InvalidParameterf(format string, a ...any) error {
	return InvalidParameter(fmt.Errorf(format, a...))
}

// KindOf returns the outermost classification found in err's chain.
func KindOf(err error) Kind {
	var c *classified
	if errors.As(err, &c) {
		return c.kind
	}
	return KindUnknown
}

// IsNotFound reports whether err is classified as not found.
func IsNotFound(err error) bool { return KindOf(err) == KindNotFound }

// IsConflict reports whether err is classified as a conflict.
func IsConflict(err error) bool { return KindOf(err) == KindConflict }

// IsInvalidParameter reports whether err is classified as invalid input.
func IsInvalidParameter(err error) bool { return KindOf(err) == KindInvalidParameter }

// IsNotModified reports whether err is classified as not modified.
func IsNotModified(err error) bool { return KindOf(err) == KindNotModified }

// IsForbidden reports whether err is classified as forbidden.
func IsForbidden(err error) bool { return KindOf(err) == KindForbidden }

// IsUnavailable reports whether err is classified as unavailable.
func IsUnavailable(err error) bool { return KindOf(err) == KindUnavailable }

// IsUnauthorized reports whether err is classified as unauthorized.
func IsUnauthorized(err error) bool { return KindOf(err) == KindUnauthorized }

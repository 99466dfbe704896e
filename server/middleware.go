package server

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/docker/docker/api/types/versions"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
	"github.com/pier-vm/pier/version"
)

// setCommonHeaders sets the headers dockerd puts on every response. Api-Version
// is the newest version the daemon speaks (clients negotiate down from it).
func setCommonHeaders(h http.Header) {
	h.Set("Api-Version", version.MaxAPIVersion)
	h.Set("Ostype", "linux")
	h.Set("Server", version.ServerHeader())
	h.Set("Docker-Experimental", "false")
}

var apiVersionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// negotiateVersion checks the version of the /vX.Y prefix (MaxAPIVersion when
// absent) and stores it in the context for the handlers.
func negotiateVersion(ctx context.Context, requested string) (context.Context, error) {
	v := requested
	if v == "" {
		v = version.MaxAPIVersion
	}
	if !apiVersionPattern.MatchString(v) {
		return ctx, errdefs.InvalidParameterf("invalid API version %q: want MAJOR.MINOR", v)
	}
	if versions.GreaterThan(v, version.MaxAPIVersion) {
		return ctx, errdefs.InvalidParameter(fmt.Errorf("client version %s is too new. Maximum supported API version is %s", v, version.MaxAPIVersion))
	}
	if versions.LessThan(v, version.MinAPIVersion) {
		return ctx, errdefs.InvalidParameter(fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, version.MinAPIVersion))
	}
	return httputils.WithVersion(ctx, v), nil
}

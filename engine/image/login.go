package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pier-vm/pier/errdefs"
)

// loginTimeout bounds one login, as dockerd's login client does.
const loginTimeout = 15 * time.Second

// Login checks auth against its registry; see API. Like dockerd it asks
// the registry's /v2/ with the credentials, through the registry's own
// handshake (a basic challenge, or a bearer token from the token service):
// a /v2/ that does not answer 200 is dockerd's "login attempt to URL failed
// with status: …" (an unclassified error, 500, as in dockerd); a token
// service that refuses the credentials is 401 with the registry's words.
func (s *Service) Login(ctx context.Context, a Auth) (string, error) {
	reg, err := s.loginRegistry(a.ServerAddress)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	endpoint := fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr())
	rt, err := transport.NewWithContext(ctx, reg, authenticator(&a), http.DefaultTransport, nil)
	if err != nil {
		return "", loginError(endpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, http.NoBody)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return "", loginError(endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.Request != nil && resp.Request.URL != nil {
			endpoint = resp.Request.URL.String()
		}
		return "", fmt.Errorf("login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return a.IdentityToken, nil
}

// loginRegistry is the registry a login's server address names: its host,
// whatever scheme or path the address has ("https://host/v1/" as the CLI
// sends for Docker Hub), Docker Hub when empty.
func (s *Service) loginRegistry(address string) (name.Registry, error) {
	host := name.DefaultRegistry
	if address != "" {
		withScheme := address
		if !strings.HasPrefix(withScheme, "https://") && !strings.HasPrefix(withScheme, "http://") {
			withScheme = "https://" + withScheme
		}
		u, err := url.Parse(withScheme)
		if err != nil {
			return name.Registry{}, errdefs.InvalidParameter(fmt.Errorf("unable to parse server address: %w", err))
		}
		host = u.Host
	}
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	var opts []name.Option
	if s.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, errdefs.InvalidParameter(fmt.Errorf("unable to parse server address: %w", err))
	}
	return reg, nil
}

// loginError words a failed handshake as dockerd does: a token service's
// refusal is unauthorized (`Get "URL": unauthorized: …`), anything else
// keeps its text.
func loginError(endpoint string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return errdefs.Unauthorized(fmt.Errorf("Get %q: %s", endpoint, registryErrorText(terr)))
	}
	return err
}

// registryErrorText words a registry's error response as Docker's
// distribution client does: "code words: message" ("unauthorized:
// authentication required"), one per error; an answer without a body (to
// a HEAD) gets the words of its status code's error.
func registryErrorText(terr *transport.Error) string {
	if len(terr.Errors) == 0 {
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			return "unauthorized: authentication required"
		case http.StatusForbidden:
			return "denied: requested access to the resource is denied"
		}
		return strings.ToLower(http.StatusText(terr.StatusCode))
	}
	parts := make([]string, 0, len(terr.Errors))
	for _, d := range terr.Errors {
		code := strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))
		if d.Message == "" {
			parts = append(parts, code)
			continue
		}
		parts = append(parts, code+": "+d.Message)
	}
	return strings.Join(parts, ", ")
}

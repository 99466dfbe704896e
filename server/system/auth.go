package system

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/docker/docker/api/types/registry"

	engineimage "github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// AuthBackend is what POST /auth needs from the engine.
type AuthBackend interface {
	RegistryLogin(ctx context.Context, auth engineimage.Auth) (identityToken string, err error)
}

// AuthRouter serves POST /auth (`docker login`).
type AuthRouter struct{ backend AuthBackend }

// NewAuthRouter returns the login router over b.
func NewAuthRouter(b AuthBackend) *AuthRouter { return &AuthRouter{backend: b} }

// Routes lists the login route.
func (r *AuthRouter) Routes() []httputils.Route {
	return []httputils.Route{{Method: http.MethodPost, Path: "/auth", Handler: r.postAuth}}
}

// postAuth checks the credentials of the body's AuthConfig against the
// registry of its ServerAddress and answers {"Status": "Login
// Succeeded"} with the registry's identity token. As in dockerd, a body
// that does not decode is answered with the decoder's error (400 here,
// where dockerd answers 500).
func (r *AuthRouter) postAuth(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg registry.AuthConfig
	if err := json.NewDecoder(req.Body).Decode(&cfg); err != nil {
		return errdefs.InvalidParameter(err)
	}
	token, err := r.backend.RegistryLogin(req.Context(), engineimage.Auth{
		Username: cfg.Username, Password: cfg.Password, IdentityToken: cfg.IdentityToken,
		RegistryToken: cfg.RegistryToken, ServerAddress: cfg.ServerAddress,
	})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, registry.AuthenticateOKBody{Status: "Login Succeeded", IdentityToken: token})
}

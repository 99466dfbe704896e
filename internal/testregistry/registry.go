// Package testregistry runs an in-memory OCI registry (go-containerregistry's
// pkg/registry) on a loopback port for tests, pushes the testimages Set to
// it, and can inject faults: corrupted blob downloads for one repository and
// the address of a registry that is down. Options put the registry behind
// basic authentication (one user, as an htpasswd file with one line) or a
// token service (the bearer flow), and add the v1 search endpoint Docker's
// search uses.
package testregistry

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pier-vm/pier/internal/testimages"
)

// Namespace is the first path component of every pushed repository:
// images live at <Host>/pier-test/<name>:<tag>.
const Namespace = "pier-test"

// Registry is a running test registry.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of references.
	Host string

	server *httptest.Server
	// user and password, when set, are the only credentials accepted;
	// with tokens they go to the token service, not to /v2/.
	user, password string
	tokens         bool
	search         bool

	mu     sync.Mutex
	broken map[string]fault // repository path ("pier-test/busybox") -> fault
}

// Option tunes a Registry.
type Option func(*Registry)

// WithBasicAuth makes every /v2/ request need these credentials (HTTP
// basic authentication, as a registry with a one-line htpasswd file):
// without them, or with others, the registry answers 401 UNAUTHORIZED with
// a Basic challenge. The registry's own Push methods use them.
func WithBasicAuth(user, password string) Option {
	return func(r *Registry) { r.user, r.password = user, password }
}

// WithTokenAuth puts the registry behind a token service, the flow Docker
// Hub uses: /v2/ answers 401 with a Bearer challenge whose realm is
// http://HOST/token; GET /token with these credentials (basic
// authentication) hands out a token that /v2/ then accepts, other
// credentials get 401 UNAUTHORIZED "incorrect username or password". The
// registry's own Push methods use them.
func WithTokenAuth(user, password string) Option {
	return func(r *Registry) { r.user, r.password, r.tokens = user, password, true }
}

// WithSearch serves GET /v1/_ping and GET /v1/search?q=TERM&n=LIMIT, the
// index search dockerd asks (`docker search HOST/TERM`): every repository
// whose name contains TERM, as {num_results, query, results: [{name,
// description, star_count, is_official}]}. Without it /v1/ is 404, as in a
// distribution registry.
func WithSearch() Option {
	return func(r *Registry) { r.search = true }
}

// Start runs a registry on 127.0.0.1 at a random port until the test ends.
func Start(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := Serve("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("testregistry: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// Serve runs a registry on addr ("127.0.0.1:0" picks a free port) until
// Close; for callers without a testing.TB, such as the
// pier-testregistry command.
func Serve(addr string, opts ...Option) (*Registry, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	r := &Registry{Host: l.Addr().String(), broken: map[string]fault{}}
	for _, o := range opts {
		o(r)
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	r.server = &httptest.Server{
		Listener: l,
		Config:   &http.Server{Handler: r.searches(reg, r.authenticates(r.faults(reg)))},
	}
	r.server.Start()
	return r, nil
}

// Close stops the registry and drops its contents.
func (r *Registry) Close() { r.server.Close() }

// Ref returns "<Host>/pier-test/<name>:<tag>".
func (r *Registry) Ref(name, tag string) string {
	return fmt.Sprintf("%s/%s/%s:%s", r.Host, Namespace, name, tag)
}

// Push writes every entry of set to the registry under Ref(name, tag);
// an index arrives with all its children.
func (r *Registry) Push(set *testimages.Set) error {
	for _, e := range set.Entries {
		var err error
		switch {
		case e.Index != nil:
			err = r.PushIndex(e.Name, e.Tag, e.Index)
		case e.Image != nil:
			err = r.PushImage(e.Name, e.Tag, e.Image)
		default:
			err = fmt.Errorf("entry %s has neither image nor index", e.Ref())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// PushImage writes one image under Ref(name, tag).
func (r *Registry) PushImage(name, tag string, img v1.Image) error {
	ref, err := r.reference(name, tag)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, r.auth()); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// PushIndex writes an index and its children under Ref(name, tag).
func (r *Registry) PushIndex(name, tag string, idx v1.ImageIndex) error {
	ref, err := r.reference(name, tag)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx, r.auth()); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

func (r *Registry) reference(repo, tag string) (name.Reference, error) {
	return name.ParseReference(r.Ref(repo, tag), name.Insecure, name.StrictValidation)
}

// auth is the registry's own credentials as a remote option.
func (r *Registry) auth() remote.Option {
	if r.user == "" {
		return remote.WithAuth(authn.Anonymous)
	}
	return remote.WithAuth(&authn.Basic{Username: r.user, Password: r.password})
}

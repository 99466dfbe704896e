// Package server is pier's HTTP front: it mounts the resource routers on a
// gorilla/mux router (every route bare and under /vX.Y), negotiates the API
// version once per request, sets the headers every dockerd response carries,
// and turns handler errors into Docker-shaped JSON errors in one place.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/pier-vm/pier/server/httputils"
)

// versionPrefix matches the optional /vX.Y prefix of every route.
const versionPrefix = "/v{version:[0-9.]+}"

// Server serves the Docker Engine API on any number of listeners.
type Server struct {
	log     *slog.Logger
	handler http.Handler
	http    *http.Server
	// stop cancels every request's context: streams (events, logs -f,
	// pulls) end at shutdown instead of holding it up.
	stop context.CancelFunc
}

// New builds a server over the given resource routers. Each router is
// mounted as is: adding a resource is one more argument here.
func New(log *slog.Logger, routers ...httputils.Router) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{log: log}
	s.handler = s.newMux(routers)
	base, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.http = &http.Server{
		Handler:           s.handler,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Handler returns the server's HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) newMux(routers []httputils.Router) *mux.Router {
	m := mux.NewRouter()
	for _, rt := range routers {
		for _, route := range rt.Routes() {
			h := s.makeHandler(route.Handler)
			if !route.Upload {
				h = limitBody(h)
			}
			m.Path(versionPrefix + route.Path).Methods(route.Method).Handler(h)
			m.Path(route.Path).Methods(route.Method).Handler(h)
		}
	}
	notFound := s.makeHandler(func(http.ResponseWriter, *http.Request, map[string]string) error {
		return errPageNotFound
	})
	// dockerd answers an unknown method on a known path as an unknown page.
	m.NotFoundHandler = notFound
	m.MethodNotAllowedHandler = notFound
	return m
}

// makeHandler wraps one route's handler with the common headers, version
// negotiation and error writing. It does not wrap the ResponseWriter, so
// handlers can still hijack the connection and flush.
func (s *Server) makeHandler(h httputils.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCommonHeaders(w.Header())
		vars := mux.Vars(r)
		if vars == nil {
			vars = map[string]string{}
		}
		s.log.Debug("request", "method", r.Method, "uri", r.URL.RequestURI())
		ctx, err := negotiateVersion(r.Context(), vars["version"])
		if err == nil {
			err = h(w, r.WithContext(ctx), vars)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// limitBody bounds a request body to httputils.MaxBodySize: a handler
// reading past it gets an *http.MaxBytesError, answered 413.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, httputils.MaxBodySize)
		}
		h.ServeHTTP(w, r)
	})
}

// Serve serves l until Shutdown. It may be called once per listener, from
// separate goroutines; it returns nil after a clean shutdown.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, cancels the requests in flight and
// waits for their handlers to return (until ctx ends, when the remaining
// connections are closed).
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	return err
}

// Package build serves the build routes: BuildKit's gRPC API (POST /grpc,
// an HTTP upgrade to h2c) and the client's session (POST /session), both
// joined to the builder VM's BuildKit (engine/build), and the build cache
// prune, and the classic POST /build, which the same BuildKit solves.
package build

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	buildtypes "github.com/docker/docker/api/types/build"

	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is the builder the routes need.
type Backend interface {
	// Dial connects to the builder's BuildKit gRPC API.
	Dial(ctx context.Context) (net.Conn, error)
	// Session opens the builder's end of a client's session (POST
	// /session, whose request carried hdr); ctx bounds its life.
	Session(ctx context.Context, hdr map[string][]string) (net.Conn, error)
	// Build runs a classic build (POST /build); out gets its progress.
	Build(ctx context.Context, req enginebuild.Request, out func(string)) (string, error)
	// Prune removes build cache (POST /build/prune).
	Prune(ctx context.Context, opts enginebuild.PruneOptions) (enginebuild.PruneReport, error)
}

// Router serves the build routes.
type Router struct {
	backend Backend
}

// NewRouter returns the build router; a nil backend serves only the prune
// of the (then empty) build cache.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the build routes.
func (r *Router) Routes() []httputils.Route {
	routes := []httputils.Route{{Method: http.MethodPost, Path: "/build/prune", Handler: r.postBuildPrune}}
	if r.backend != nil {
		routes = append(routes,
			httputils.Route{Method: http.MethodPost, Path: "/grpc", Handler: r.postGRPC},
			httputils.Route{Method: http.MethodPost, Path: "/session", Handler: r.postSession},
			httputils.Route{Method: http.MethodPost, Path: "/build", Handler: r.postBuild, Upload: true},
		)
	}
	return routes
}

// postBuildPrune prunes the build cache (docker builder prune, the last
// step of docker system prune). Without a builder the cache is empty.
func (r *Router) postBuildPrune(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	opts, err := pruneOptions(req)
	if err != nil {
		return err
	}
	report := buildtypes.CachePruneReport{}
	if r.backend != nil {
		got, err := r.backend.Prune(req.Context(), opts)
		if err != nil {
			return err
		}
		report.CachesDeleted = got.Deleted
		report.SpaceReclaimed = uint64(max(got.Reclaimed, 0))
	}
	return httputils.WriteJSON(w, http.StatusOK, report)
}

// postGRPC upgrades the connection to h2c and hands it to the builder's
// gRPC server, byte for byte.
func (r *Router) postGRPC(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := wantH2C(req); err != nil {
		return err
	}
	remote, err := r.backend.Dial(req.Context())
	if err != nil {
		return err
	}
	return upgradeTo(w, remote)
}

// postSession upgrades the connection and joins it to the builder's session
// manager for the session's whole life.
func (r *Router) postSession(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := wantH2C(req); err != nil {
		return err
	}
	if req.Header.Get("X-Docker-Expose-Session-Uuid") == "" {
		return errdefs.InvalidParameter(errors.New("no session ID in request"))
	}
	// The session outlives the request's context, which ends with the
	// hijack: it ends when either side closes.
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	defer cancel()
	remote, err := r.backend.Session(ctx, req.Header)
	if err != nil {
		return err
	}
	return upgradeTo(w, remote)
}

// upgradeTo answers 101 and joins the client's connection to remote until
// either side ends (remote is closed either way).
func upgradeTo(w http.ResponseWriter, remote net.Conn) error {
	conn, err := upgrade(w)
	if err != nil {
		remote.Close()
		return err
	}
	splice(conn, remote)
	return nil
}

func wantH2C(req *http.Request) error {
	switch up := req.Header.Get("Upgrade"); up {
	case "h2c":
		return nil
	case "":
		return errdefs.InvalidParameter(errors.New("no upgrade proto in request"))
	default:
		return errdefs.InvalidParameter(errors.New("protocol " + up + " not supported"))
	}
}

// upgrade takes the connection over and answers 101 Switching Protocols to
// h2c, as dockerd does.
func upgrade(w http.ResponseWriter) (net.Conn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("this connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	const head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		conn.Close()
		return nil, err
	}
	if brw != nil && brw.Reader.Buffered() > 0 {
		buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
		return &prefixedConn{Conn: conn, prefix: append([]byte(nil), buffered...)}, nil
	}
	return conn, nil
}

// prefixedConn reads what the HTTP server had buffered before the
// connection's own bytes.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// splice copies both ways until either direction ends, then closes both.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

package build

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session/grpchijack"
)

// sessionHeaderPrefix marks the headers of POST /session that describe the
// client's session (its ID, name, shared key and the gRPC methods it
// serves).
const sessionHeaderPrefix = "X-Docker-Expose-Session-"

// Session opens the builder's end of a client's BuildKit session (POST
// /session, whose request carried hdr): bytes the caller copies between it
// and the client's hijacked connection reach the builder's session
// manager, which then calls the client's session services (the build
// context, credentials, …) over it. ctx bounds the session's life.
func (b *Builder) Session(ctx context.Context, hdr http.Header) (net.Conn, error) {
	meta := map[string][]string{}
	for k, v := range hdr {
		if strings.HasPrefix(http.CanonicalHeaderKey(k), sessionHeaderPrefix) {
			meta[k] = v
		}
	}
	c, err := client.New(ctx, "", client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return b.Dial(ctx)
	}))
	if err != nil {
		return nil, err
	}
	conn, err := grpchijack.Dialer(c.ControlClient())(ctx, "h2c", meta)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &sessionConn{Conn: conn, client: c}, nil
}

// sessionConn is a session stream that also closes its gRPC client.
type sessionConn struct {
	net.Conn
	client *client.Client
	once   sync.Once
}

func (c *sessionConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.client.Close() })
	return err
}

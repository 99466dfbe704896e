package build

import (
	"context"
	"net"
	"net/textproto"
	"strings"

	"github.com/moby/buildkit/session/grpchijack"
)

// sessionHeaderPrefix marks the headers of POST /session that describe the
// client's session (its ID, name, shared key and the gRPC methods it
// serves).
const sessionHeaderPrefix = "X-Docker-Expose-Session-"

// Session opens the builder's end of a client's BuildKit session (POST
// /session, whose request carried the headers hdr): bytes the caller copies between it
// and the client's hijacked connection reach the builder's session
// manager, which then calls the client's session services (the build
// context, credentials, …) over it. ctx bounds the session's life.
func (b *Builder) Session(ctx context.Context, hdr map[string][]string) (net.Conn, error) {
	meta := map[string][]string{}
	for k, v := range hdr {
		if strings.HasPrefix(textproto.CanonicalMIMEHeaderKey(k), sessionHeaderPrefix) {
			meta[k] = v
		}
	}
	end := b.use.begin()
	c, err := b.client(ctx)
	if err != nil {
		end()
		return nil, err
	}
	conn, err := grpchijack.Dialer(c.ControlClient())(ctx, "h2c", meta)
	if err != nil {
		end()
		return nil, err
	}
	return &usedConn{Conn: conn, end: end}, nil
}

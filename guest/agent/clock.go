//go:build linux

package agent

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// serveSetClock sets the wall clock to the host's (OpSetClock).
func (a *Agent) serveSetClock(stream net.Conn, unixNano int64) {
	if unixNano <= 0 {
		fail(stream, errors.New("set-clock without a time"))
		return
	}
	tv := unix.NsecToTimeval(unixNano)
	if err := unix.Settimeofday(&tv); err != nil {
		fail(stream, fmt.Errorf("set the clock: %w", err))
		return
	}
	proto.WriteMessage(stream, proto.Response{})
	stream.Close()
}

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
	if err := SetClock(unixNano); err != nil {
		fail(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{})
	stream.Close()
}

// SetClock sets the guest's wall clock (the host's time at the request:
// after an unpause, and at start for a VM cloned from a template).
func SetClock(unixNano int64) error {
	tv := unix.NsecToTimeval(unixNano)
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("set the clock: %w", err)
	}
	return nil
}

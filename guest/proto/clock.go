package proto

import (
	"context"
	"time"
)

// OpSetClock sets the guest's wall clock to Request.Clock (nanoseconds
// since the epoch). A VM whose vCPUs were stopped (docker pause) resumes
// with its clock behind by the time it stood still; the host sets it
// right after resuming it.
const OpSetClock = "set-clock"

// SetClock sets the guest's wall clock to t.
func (c *Client) SetClock(ctx context.Context, t time.Time) error {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpSetClock, Clock: t.UnixNano()}, &resp)
	if err != nil {
		return err
	}
	return s.Close()
}

package vmruntime

import (
	"context"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// stopGuest ends a VM the guest's own way, for every driver: its agent is
// asked to power off (pier-init syncs its disks first) and the VM's end
// is awaited; when the agent does not take the request, or the VM has not
// ended within d, it is killed. Every wait is bounded: the request and
// the power-off by d together, the kill by the driver's own bound
// (Machine.Kill returns once the VM is gone, or an error). The client is
// closed. It returns whether the guest powered off by itself, and Kill's
// error.
func stopGuest(c *proto.Client, m vm.Machine, d time.Duration) (clean bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if c.Shutdown(ctx) == nil {
		select {
		case <-m.Done():
			clean = true
		case <-ctx.Done():
		}
	}
	c.Close()
	return clean, m.Kill()
}

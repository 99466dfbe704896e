//go:build !linux

package qemu

import (
	"context"
	"time"
)

// waitExit returns once pid has exited (/proc is polled).
func waitExit(pid int) {
	for waitGone(context.Background(), pid) != nil {
		time.Sleep(100 * time.Millisecond)
	}
}

package qemu

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// waitExit returns once pid has exited: a pidfd turns readable then (an
// exited process of another parent counts, zombie or not); without pidfds
// /proc is polled.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == nil {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n > 0 {
				return
			}
		}
	}
	for {
		if waitGone(context.Background(), pid) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

//go:build linux

package agent

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

type waitStatus = unix.WaitStatus

// exitStatus turns a wait status into Docker's exit code (128+n for a
// signal).
func exitStatus(ws unix.WaitStatus) proto.ExitStatus {
	switch {
	case ws.Signaled():
		return proto.ExitStatus{Code: 128 + int(ws.Signal()), Signal: int(ws.Signal())}
	case ws.Exited():
		return proto.ExitStatus{Code: ws.ExitStatus()}
	}
	return proto.ExitStatus{Code: 255}
}

// oomKills reads the kernel's count of OOM kills (-1 when unknown).
func oomKills() int64 {
	f, err := os.Open("/proc/vmstat")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == "oom_kill" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

//go:build linux

package agent

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// deliverableToInit says whether sig, sent by `docker kill` or `docker
// stop`, reaches the container's main process. Under dockerd the main
// process is PID 1 of its PID namespace, and the kernel delivers a signal
// from outside to such an init only if it installed a handler for it
// (SIGKILL and SIGSTOP always): a shell without a TERM trap ignores
// `docker stop`, which then waits its timeout and kills with 137. pier's
// main process is not PID 1 (pier-init is), so the agent applies the same
// rule, reading the caught-signal mask from /proc/<pid>/status.
func deliverableToInit(pid int, sig syscall.Signal) bool {
	if sig == syscall.SIGKILL || sig == syscall.SIGSTOP {
		return true
	}
	caught, err := caughtSignals(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return true // the process is gone or unreadable: let the kernel decide
	}
	return sig >= 1 && sig <= 64 && caught&(1<<(uint(sig)-1)) != 0
}

// caughtSignals is the SigCgt mask of a /proc/<pid>/status file.
func caughtSignals(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "SigCgt:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, fmt.Errorf("%s: no SigCgt line", path)
}

package system

import "golang.org/x/sys/unix"

// memTotal is the host's physical memory in bytes (docker info's MemTotal).
func memTotal() int64 {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0
	}
	return int64(n)
}

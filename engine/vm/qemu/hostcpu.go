package qemu

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// tscKHz returns the host CPU clock in kHz from /proc/cpuinfo ("cpu MHz"),
// or 0 when unknown. A microvm guest under TCG needs it (tsc_early_khz=),
// or it hangs calibrating the TSC.
func tscKHz() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	return parseCPUMHz(bufio.NewScanner(f))
}

func parseCPUMHz(sc *bufio.Scanner) int {
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || mhz <= 0 {
			return 0
		}
		return int(mhz * 1000)
	}
	return 0
}

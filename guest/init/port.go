//go:build linux

package init

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// findAgentPort finds the virtio-serial port named proto.PortName. There is
// no udev in the guest, so the name comes from sysfs and the device node
// from devtmpfs.
func findAgentPort(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == proto.PortName {
				dev := "/dev/" + filepath.Base(filepath.Dir(n))
				if _, err := os.Stat(dev); err == nil {
					return dev, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no virtio port named %q after %v", proto.PortName, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

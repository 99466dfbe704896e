//go:build linux

package init

import (
	"fmt"
	"io"
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

// hostPort is the agent port as the agent reads it: until the host's first
// bytes arrive, an end of file only means that no host is connected yet
// (virtio-console reads return 0 then), so the read is retried every
// hostPollInterval with the port kept open. Closing and reopening it
// instead would race with a host that connects at that moment: bytes QEMU
// hands over while the guest's side is closed are dropped, and the host's
// handshake fails (this is how a VM cloned from a template meets its host).
type hostPort struct {
	*os.File
	spoken bool
}

const hostPollInterval = 5 * time.Millisecond

func (p *hostPort) Read(b []byte) (int, error) {
	for {
		n, err := p.File.Read(b)
		if n > 0 {
			p.spoken = true
			return n, err
		}
		if err != io.EOF || p.spoken {
			return n, err
		}
		time.Sleep(hostPollInterval)
	}
}

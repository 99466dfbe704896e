package qemu

import (
	"fmt"
	"os"

	"github.com/pier-vm/pier/engine/vm"
)

// firstNICFd is the fd the first NIC's socket has in QEMU (after stdin,
// stdout, stderr); NIC i gets firstNICFd+i.
const firstNICFd = 3

// nicArgs plugs each NIC into a socket netdev on an inherited fd: QEMU
// reads and writes Ethernet frames with a 4-byte big-endian length there.
func nicArgs(nics []vm.NIC) []string {
	var a []string
	for i, n := range nics {
		a = append(a,
			"-netdev", fmt.Sprintf("socket,id=net%d,fd=%d", i, firstNICFd+i),
			"-device", fmt.Sprintf("virtio-net-device,netdev=net%d,mac=%s", i, n.MAC),
		)
	}
	return a
}

// attachNICs connects every NIC to its switch (stream sockets).
func attachNICs(nics []vm.NIC) ([]*os.File, error) {
	files := make([]*os.File, 0, len(nics))
	for i, n := range nics {
		f, err := n.Attach(false)
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("nic %d: %w", i, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

package vmruntime

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// guestMounts is what a container's mount points become.
type guestMounts struct {
	shares []vm.Share
	specs  []proto.MountSpec
	// sockets are the forwarded unix sockets; hostSockets their host paths.
	sockets     []proto.SocketSpec
	hostSockets []string
}

// mounts turns the container's mount points into virtio-fs shares (a host
// directory each; a file is shared through its directory and mounted on
// its own in the guest), the guest's mount list, and forwarded unix
// sockets (virtio-fs carries files, not connections).
func mounts(mps []container.MountPoint) (guestMounts, error) {
	var g guestMounts
	for _, mp := range mps {
		if mp.Type == container.MountTmpfs {
			g.specs = append(g.specs, proto.MountSpec{Type: proto.MountTmpfs, Target: mp.Destination, Options: mp.TmpfsOptions})
			continue
		}
		fi, err := os.Stat(mp.Source)
		if err != nil {
			return g, fmt.Errorf("mount source of %s: %w", mp.Destination, err)
		}
		if fi.Mode()&os.ModeSocket != 0 {
			g.sockets = append(g.sockets, proto.SocketSpec{Target: mp.Destination, Mode: uint32(fi.Mode().Perm())})
			g.hostSockets = append(g.hostSockets, mp.Source)
			continue
		}
		// Share k is tagged as template share slot k, so that a container
		// with shares can start as a clone (vm.ShapeOf).
		spec := proto.MountSpec{Type: proto.MountVirtiofs, Tag: vm.ShareSlotTag(len(g.shares)), Target: mp.Destination, ReadOnly: !mp.RW}
		share := vm.Share{Tag: spec.Tag, HostPath: mp.Source, ReadOnly: !mp.RW}
		switch {
		case fi.IsDir():
			spec.CopyUp = mp.Type == container.MountVolume && mp.RW && !mp.NoCopy
		case fi.Mode().IsRegular():
			share.HostPath, spec.SubPath = filepath.Dir(mp.Source), filepath.Base(mp.Source)
		default:
			return g, fmt.Errorf("mount source %s is neither a directory, a regular file nor a unix socket", mp.Source)
		}
		g.shares = append(g.shares, share)
		g.specs = append(g.specs, spec)
	}
	return g, nil
}

// dialSocket connects to forwarded socket i on the host.
func (g guestMounts) dialSocket(i int) (net.Conn, error) {
	if i < 0 || i >= len(g.hostSockets) {
		return nil, fmt.Errorf("no forwarded socket %d", i)
	}
	return net.Dial("unix", g.hostSockets[i])
}

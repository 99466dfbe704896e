package vmruntime

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// mountTag is the virtio-fs tag of the container's i-th mount share.
func mountTag(i int) string { return fmt.Sprintf("pier-m%d", i) }

// mounts turns the container's mount points into virtio-fs shares (a host
// directory each; a file is shared through its directory and mounted on
// its own in the guest) and the guest's mount list.
func mounts(mps []container.MountPoint) ([]vm.Share, []proto.MountSpec, error) {
	var shares []vm.Share
	var specs []proto.MountSpec
	for i, mp := range mps {
		if mp.Type == container.MountTmpfs {
			specs = append(specs, proto.MountSpec{Type: proto.MountTmpfs, Target: mp.Destination, Options: mp.TmpfsOptions})
			continue
		}
		fi, err := os.Stat(mp.Source)
		if err != nil {
			return nil, nil, fmt.Errorf("mount source of %s: %w", mp.Destination, err)
		}
		spec := proto.MountSpec{Type: proto.MountVirtiofs, Tag: mountTag(i), Target: mp.Destination, ReadOnly: !mp.RW}
		share := vm.Share{Tag: spec.Tag, HostPath: mp.Source, ReadOnly: !mp.RW}
		switch {
		case fi.IsDir():
			spec.CopyUp = mp.Type == container.MountVolume && mp.RW && mp.Mode != "nocopy"
		case fi.Mode().IsRegular():
			share.HostPath, spec.SubPath = filepath.Dir(mp.Source), filepath.Base(mp.Source)
		default:
			return nil, nil, fmt.Errorf("mount source %s is neither a directory nor a regular file", mp.Source)
		}
		shares = append(shares, share)
		specs = append(specs, spec)
	}
	return shares, specs, nil
}

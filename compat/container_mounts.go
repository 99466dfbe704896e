package compat

import (
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	enginecontainer "github.com/pier-vm/pier/engine/container"
)

// mountPoints is inspect's and ps's Mounts, as dockerd shows them.
func mountPoints(mps []enginecontainer.MountPoint) []container.MountPoint {
	out := make([]container.MountPoint, 0, len(mps))
	for _, mp := range mps {
		m := container.MountPoint{
			Type:        mount.Type(mp.Type),
			Source:      mp.Source,
			Destination: mp.Destination,
			Mode:        mp.Mode,
			RW:          mp.RW,
			Propagation: mount.Propagation(mp.Propagation),
		}
		switch mp.Type {
		case enginecontainer.MountVolume:
			m.Name, m.Driver = mp.Name, "local"
		case enginecontainer.MountTmpfs:
			m.Source = ""
		}
		out = append(out, m)
	}
	return out
}

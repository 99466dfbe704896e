package compat

import (
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	enginecontainer "github.com/pier-vm/pier/engine/container"
	enginevolume "github.com/pier-vm/pier/engine/volume"
)

// mountPoints is inspect's and ps's Mounts, as dockerd shows them: a bind
// with its source, mode as given and propagation (rprivate by default); a
// volume with its name, its directory as source, driver local and mode z
// by default; a tmpfs of --mount with neither source nor mode. --tmpfs
// mounts are not listed (dockerd keeps them apart from the mount points).
func mountPoints(c enginecontainer.Container) []container.MountPoint {
	mps := c.ListedMountPoints()
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
			m.Name, m.Driver = mp.Name, enginevolume.DriverLocal
		case enginecontainer.MountTmpfs:
			m.Source, m.Mode, m.Propagation = "", "", ""
		}
		out = append(out, m)
	}
	return out
}

package engine

import (
	"strings"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// volumesFrom returns the mount points the containers specs name share
// with a new container (`--volumes-from NAME[:ro|:rw]`, Compose's
// volumes_from), as dockerd copies them: each listed mount point of the
// source (binds, volumes, --mount tmpfs; not its --tmpfs) at the same
// destination with the same source or volume, read-only when the
// source's is or ":ro" is given. A copied volume is never anonymous for
// the new container (`rm -v` of it leaves the volume to its first
// container) and is not filled from the image again. Later specs win over
// earlier ones at the same destination, and the container's own mounts
// over all of them.
func (s *Containers) volumesFrom(specs []string) ([]container.MountPoint, error) {
	byDest := map[string]int{}
	var out []container.MountPoint
	for _, spec := range specs {
		ref, readOnly, err := parseVolumesFrom(spec)
		if err != nil {
			return nil, err
		}
		x, err := s.get(ref)
		if err != nil {
			return nil, err
		}
		for _, mp := range x.snapshot().ListedMountPoints() {
			mp.RW = mp.RW && !readOnly
			mp.Anonymous = false
			mp.NoCopy = true
			if i, ok := byDest[mp.Destination]; ok {
				out[i] = mp
				continue
			}
			byDest[mp.Destination] = len(out)
			out = append(out, mp)
		}
	}
	return out, nil
}

// parseVolumesFrom splits "container[:mode]" as dockerd does: the mode is
// ro or rw, optionally with an SELinux label (z, Z); propagation and copy
// modes are refused.
func parseVolumesFrom(spec string) (ref string, readOnly bool, err error) {
	if spec == "" {
		return "", false, errdefs.InvalidParameterf("volumes-from specification cannot be an empty string")
	}
	ref, mode, hasMode := strings.Cut(spec, ":")
	if !hasMode {
		return ref, false, nil
	}
	rw := 0
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "ro":
			readOnly = true
			rw++
		case "rw":
			rw++
		case "z", "Z":
		default:
			return "", false, errdefs.InvalidParameterf("invalid mode: %s", mode)
		}
	}
	if rw > 1 {
		return "", false, errdefs.InvalidParameterf("invalid mode: %s", mode)
	}
	return ref, readOnly, nil
}

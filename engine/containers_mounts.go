package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// resolveMounts turns create's Binds, Mounts, Tmpfs and VolumesFrom into
// the container's mount points, creating named volumes (and -v host directories, as dockerd
// does) that are missing. Everything is checked before anything is
// created, so a refused create leaves nothing behind but volumes the user
// asked for by name (anonymous volumes made before a failure are removed).
// The caller holds s.volMu shared.
//
// volumes are Config.Volumes (the CLI's `-v /path` and the image's VOLUMEs):
// each path no explicit mount covers gets an anonymous volume, as dockerd
// gives it.
func (s *Containers) resolveMounts(hc container.HostConfig, volumes []string) ([]container.MountPoint, error) {
	var out []container.MountPoint
	for _, b := range hc.Binds {
		mp, err := parseBind(b)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	for _, m := range hc.Mounts {
		mp, err := parseMount(m)
		if err != nil {
			return nil, err
		}
		out = append(out, mp)
	}
	for target, opts := range hc.Tmpfs {
		out = append(out, container.MountPoint{Type: container.MountTmpfs, Destination: target, RW: true, TmpfsOptions: opts})
	}
	seen := map[string]bool{}
	for i := range out {
		d := out[i].Destination
		if !path.IsAbs(d) {
			return nil, errdefs.InvalidParameterf("invalid mount config: mount path must be absolute: %s", d)
		}
		d = path.Clean(d)
		if d == "/" {
			return nil, errdefs.InvalidParameterf("invalid specification: destination can't be '/'")
		}
		if seen[d] {
			return nil, errdefs.InvalidParameterf("Duplicate mount point: %s", d)
		}
		seen[d] = true
		out[i].Destination = d
	}
	from, err := s.volumesFrom(hc.VolumesFrom)
	if err != nil {
		return nil, err
	}
	for _, mp := range from {
		if !seen[mp.Destination] { // the container's own mounts win
			seen[mp.Destination] = true
			out = append(out, mp)
		}
	}
	for _, v := range slices.Sorted(slices.Values(volumes)) {
		d := path.Clean(v)
		if !path.IsAbs(d) || d == "/" {
			return nil, errdefs.InvalidParameterf("invalid volume specification: '%s'", v)
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, container.MountPoint{Type: container.MountVolume, Destination: d, RW: true, Anonymous: true})
		}
	}
	for i := range out {
		if err := s.prepareSource(&out[i]); err != nil {
			s.dropAnonymousVolumes(out[:i])
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b container.MountPoint) int { return strings.Compare(a.Destination, b.Destination) })
	return out, nil
}

// parseBind parses -v: "src:dst[:mode]" where src is an absolute host path
// (a bind) or a volume name; "dst" alone is an anonymous volume.
func parseBind(spec string) (container.MountPoint, error) {
	parts := strings.Split(spec, ":")
	mp := container.MountPoint{RW: true}
	switch len(parts) {
	case 1:
		mp.Type, mp.Destination, mp.Anonymous = container.MountVolume, parts[0], true
	case 2, 3:
		mp.Destination = parts[1]
		if len(parts) == 3 {
			mp.Mode = parts[2]
			for _, o := range strings.Split(mp.Mode, ",") {
				switch o {
				case "ro":
					mp.RW = false
				case "nocopy":
					mp.NoCopy = true
				case "rw", "z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave", "consistent", "cached", "delegated":
				default:
					return mp, errdefs.InvalidParameterf("invalid mode: %s", mp.Mode)
				}
			}
		}
		if strings.HasPrefix(parts[0], "/") {
			mp.Type, mp.Source, mp.Propagation = container.MountBind, filepath.Clean(parts[0]), "rprivate"
		} else {
			if !volume.ValidName(parts[0]) {
				return mp, errdefs.InvalidParameterf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", parts[0], parts[0])
			}
			mp.Type, mp.Name = container.MountVolume, parts[0]
		}
	default:
		return mp, errdefs.InvalidParameterf("invalid volume specification: '%s'", spec)
	}
	return mp, nil
}

// parseMount parses one --mount.
func parseMount(m container.Mount) (container.MountPoint, error) {
	mp := container.MountPoint{Destination: m.Target, RW: !m.ReadOnly}
	if m.Target == "" {
		return mp, errdefs.InvalidParameterf("invalid mount config for type %q: field Target must not be empty", m.Type)
	}
	switch m.Type {
	case container.MountBind:
		if m.Source == "" {
			return mp, errdefs.InvalidParameterf("invalid mount config for type \"bind\": field Source must not be empty")
		}
		if !filepath.IsAbs(m.Source) {
			return mp, errdefs.InvalidParameterf("invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", m.Source)
		}
		if _, err := os.Stat(m.Source); err != nil {
			return mp, errdefs.InvalidParameterf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
		}
		mp.Type, mp.Source, mp.Propagation = container.MountBind, filepath.Clean(m.Source), "rprivate"
	case container.MountVolume:
		mp.Type, mp.Name, mp.NoCopy = container.MountVolume, m.Source, m.NoCopy
		mp.Anonymous = m.Source == ""
		if !mp.Anonymous && !volume.ValidName(m.Source) {
			return mp, errdefs.InvalidParameterf("invalid mount config for type \"volume\": invalid volume name %q", m.Source)
		}
	case container.MountTmpfs:
		if m.Source != "" {
			return mp, errdefs.InvalidParameterf("invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
		mp.Type = container.MountTmpfs
		var opts []string
		if m.TmpfsSize > 0 {
			opts = append(opts, fmt.Sprintf("size=%d", m.TmpfsSize))
		}
		if m.TmpfsMode != 0 {
			opts = append(opts, fmt.Sprintf("mode=%o", m.TmpfsMode))
		}
		mp.TmpfsOptions = strings.Join(opts, ",")
	default:
		return mp, errdefs.NotImplemented(fmt.Errorf("mounts of type %q are not supported by pier", m.Type))
	}
	return mp, nil
}

// prepareSource creates what a mount point needs on the host: the volume
// (named or anonymous), or a -v bind source directory that is missing.
// A unix socket is forwarded (connection by connection, over the agent's
// channel) rather than shared, so it cannot be read-only.
func (s *Containers) prepareSource(mp *container.MountPoint) error {
	switch mp.Type {
	case container.MountVolume:
		v, err := s.createVolume(mp.Name, nil, nil)
		if err != nil {
			return err
		}
		mp.Name, mp.Source = v.Name, v.Mountpoint
		if mp.Mode == "" {
			mp.Mode = "z"
		}
	case container.MountBind:
		fi, err := os.Stat(mp.Source)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(mp.Source, 0o755); err != nil {
				return errdefs.InvalidParameterf("error while creating mount source path '%s': %v", mp.Source, err)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 && !mp.RW {
			return errdefs.NotImplemented(fmt.Errorf("bind mount of %s: a unix socket is forwarded into the VM, and cannot be read-only", mp.Source))
		}
	}
	return nil
}

// volumesOf lists the volume names c mounts.
func volumesOf(c container.Container) []string {
	var out []string
	for _, mp := range c.MountPoints {
		if mp.Type == container.MountVolume {
			out = append(out, mp.Name)
		}
	}
	return out
}

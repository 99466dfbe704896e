package engine

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// VolumeInfo is a volume with the containers that mount it.
type VolumeInfo struct {
	volume.Volume
	// UsedBy are the IDs of the containers (running or not) mounting it,
	// sorted.
	UsedBy []string
}

// VolumeCreate creates a local volume; an empty name makes an anonymous
// one. Creating a volume that exists returns it unchanged, as dockerd does.
// A driver other than local is a plugin pier does not have: not found,
// worded as dockerd words it.
func (s *Containers) VolumeCreate(ctx context.Context, name, driver string, labels, opts map[string]string) (volume.Volume, error) {
	if driver != "" && driver != volume.DriverLocal {
		op := "create"
		if name != "" {
			op += " " + name
		}
		return volume.Volume{}, errdefs.NotFoundf("%s: error looking up volume plugin %s: plugin %q not found", op, driver, driver)
	}
	return s.createVolume(name, labels, opts)
}

// createVolume creates a volume (or returns the existing one of that name)
// and publishes its create event when it is new, for the API and for the
// volumes a container create makes alike.
func (s *Containers) createVolume(name string, labels, opts map[string]string) (volume.Volume, error) {
	v, created, err := s.volumes.Create(name, labels, opts)
	if err != nil {
		return volume.Volume{}, err
	}
	if created {
		s.publishVolume(v, "create")
	}
	return v, nil
}

// VolumeList returns every volume, by name.
func (s *Containers) VolumeList() []VolumeInfo {
	users := s.volumeUsers()
	vols := s.volumes.List()
	out := make([]VolumeInfo, 0, len(vols))
	for _, v := range vols {
		out = append(out, VolumeInfo{Volume: v, UsedBy: users[v.Name]})
	}
	return out
}

// VolumeInspect returns the volume called name.
func (s *Containers) VolumeInspect(name string) (VolumeInfo, error) {
	v, err := s.volumes.Get(name)
	if err != nil {
		return VolumeInfo{}, err
	}
	return VolumeInfo{Volume: v, UsedBy: s.volumeUsers()[name]}, nil
}

// volumeUsers maps volume names to the containers (running or not)
// mounting them.
func (s *Containers) volumeUsers() map[string][]string {
	users := map[string][]string{}
	for _, x := range s.all() {
		c := x.snapshot()
		for _, name := range volumesOf(c) {
			if !slices.Contains(users[name], c.ID) {
				users[name] = append(users[name], c.ID)
			}
		}
	}
	for _, ids := range users {
		slices.Sort(ids)
	}
	return users
}

// VolumeRemove deletes a volume no container mounts: one that any
// container mounts, running or not, is a conflict naming them. With force,
// a missing volume is not an error; an in-use one still is, as in dockerd.
func (s *Containers) VolumeRemove(ctx context.Context, name string, force bool) error {
	s.volMu.Lock()
	defer s.volMu.Unlock()
	v, err := s.volumes.Get(name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ids := s.volumeUsers()[name]; len(ids) > 0 {
		return errVolumeInUse(name, ids)
	}
	if err := s.volumes.Remove(name); err != nil {
		if errdefs.IsNotFound(err) {
			return nil // removed meanwhile, as dockerd treats it
		}
		return err
	}
	s.publishVolume(v, "destroy")
	return nil
}

func errVolumeInUse(name string, ids []string) error {
	return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", "))
}

// VolumePrune removes the volumes no container mounts that match (all when
// match is nil): only anonymous ones unless all is set (dockerd's rule
// since API 1.42; the server sets all for older clients). It returns the
// names removed and the bytes reclaimed, and publishes dockerd's prune
// event. A volume that cannot be removed is skipped, as dockerd does.
func (s *Containers) VolumePrune(ctx context.Context, match func(volume.Volume) bool, all bool) ([]string, uint64, error) {
	s.volMu.Lock()
	defer s.volMu.Unlock()
	users := s.volumeUsers()
	removed := []string{}
	var reclaimed uint64
	for _, v := range s.volumes.List() {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return removed, reclaimed, err
		}
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || (match != nil && !match(v)) {
			continue
		}
		size := s.volumes.Size(v.Name)
		if err := s.volumes.Remove(v.Name); err != nil {
			s.log.Warn("pruning a volume", "volume", v.Name, "err", err)
			continue
		}
		s.publishVolume(v, "destroy")
		removed = append(removed, v.Name)
		reclaimed += uint64(size)
	}
	s.events.Publish(events.Event{
		Type:   events.TypeVolume,
		Action: "prune",
		Actor:  events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(reclaimed, 10)}},
	})
	return removed, reclaimed, nil
}

// removeAnonymousVolumes deletes the anonymous volumes among a removed
// container's mount points that no other container mounts (`docker rm -v`,
// --rm), as dockerd does: named volumes stay.
func (s *Containers) removeAnonymousVolumes(mps []container.MountPoint) {
	s.volMu.Lock()
	defer s.volMu.Unlock()
	s.dropAnonymousVolumes(mps)
}

// dropAnonymousVolumes is removeAnonymousVolumes for a caller holding
// volMu: exclusively, or shared for the volumes a create has just made
// and no one else can know of yet.
func (s *Containers) dropAnonymousVolumes(mps []container.MountPoint) {
	var users map[string][]string
	for _, mp := range mps {
		if mp.Type != container.MountVolume || !mp.Anonymous {
			continue
		}
		if users == nil {
			users = s.volumeUsers()
		}
		if len(users[mp.Name]) > 0 {
			continue
		}
		v, err := s.volumes.Get(mp.Name)
		if err != nil {
			continue
		}
		if err := s.volumes.Remove(mp.Name); err != nil {
			s.log.Warn("removing an anonymous volume", "volume", mp.Name, "err", err)
			continue
		}
		s.publishVolume(v, "destroy")
	}
}

// publishVolume sends a volume event with dockerd's attribute driver.
func (s *Containers) publishVolume(v volume.Volume, action string) {
	s.events.Publish(events.Event{
		Type:   events.TypeVolume,
		Action: action,
		Actor:  events.Actor{ID: v.Name, Attributes: map[string]string{"driver": v.Driver}},
	})
}

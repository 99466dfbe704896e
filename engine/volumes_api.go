package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// VolumeInfo is a volume with the containers that mount it.
type VolumeInfo struct {
	volume.Volume
	// UsedBy are the IDs of the containers (running or not) mounting it.
	UsedBy []string
}

// VolumeCreate creates a local volume (returns the existing one of that
// name, as dockerd does).
func (s *Containers) VolumeCreate(ctx context.Context, name, driver string, labels, opts map[string]string) (volume.Volume, error) {
	if driver != "" && driver != volume.DriverLocal {
		return volume.Volume{}, errdefs.NotFoundf("plugin %q not found", driver)
	}
	_, lookupErr := s.volumes.Get(name)
	v, err := s.volumes.Create(name, labels, opts)
	if err != nil {
		return volume.Volume{}, err
	}
	if lookupErr != nil { // it is new
		s.publishVolume(v, "create")
	}
	return v, nil
}

// VolumeList returns every volume.
func (s *Containers) VolumeList() []VolumeInfo {
	users := s.volumeUsers()
	var out []VolumeInfo
	for _, v := range s.volumes.List() {
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

// volumeUsers maps volume names to the containers mounting them.
func (s *Containers) volumeUsers() map[string][]string {
	users := map[string][]string{}
	for _, x := range s.all() {
		c := x.snapshot()
		for _, name := range volumesOf(c) {
			users[name] = append(users[name], c.ID)
		}
	}
	for _, ids := range users {
		slices.Sort(ids)
	}
	return users
}

// VolumeRemove deletes a volume no container mounts. With force, a
// missing volume is not an error (an in-use one still is, as in dockerd).
func (s *Containers) VolumeRemove(ctx context.Context, name string, force bool) error {
	v, err := s.volumes.Get(name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if ids := s.volumeUsers()[name]; len(ids) > 0 {
		return errdefs.Conflictf("remove %s: volume is in use - [%s]", name, strings.Join(ids, ", "))
	}
	if err := s.volumes.Remove(name); err != nil {
		return err
	}
	s.publishVolume(v, "destroy")
	return nil
}

// VolumePrune removes unused volumes that match: only anonymous ones
// unless all (dockerd's rule since API 1.42). It returns the names removed
// and the bytes reclaimed.
func (s *Containers) VolumePrune(ctx context.Context, match func(volume.Volume) bool, all bool) ([]string, uint64, error) {
	users := s.volumeUsers()
	var removed []string
	var reclaimed uint64
	for _, v := range s.volumes.List() {
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous) || (match != nil && !match(v)) {
			continue
		}
		size := s.volumes.Size(v.Name)
		if err := s.volumes.Remove(v.Name); err != nil {
			return removed, reclaimed, fmt.Errorf("prune %s: %w", v.Name, err)
		}
		s.publishVolume(v, "destroy")
		removed = append(removed, v.Name)
		reclaimed += uint64(size)
	}
	return removed, reclaimed, nil
}

// removeAnonymousVolumes deletes the anonymous volumes of a removed
// container that no other container mounts (`docker rm -v`, --rm).
func (s *Containers) removeAnonymousVolumes(c containerMounts) {
	users := s.volumeUsers()
	for _, mp := range c {
		if !mp.anonymous || len(users[mp.name]) > 0 {
			continue
		}
		if v, err := s.volumes.Get(mp.name); err == nil {
			if err := s.volumes.Remove(mp.name); err != nil {
				s.log.Warn("removing an anonymous volume", "volume", mp.name, "err", err)
				continue
			}
			s.publishVolume(v, "destroy")
		}
	}
}

// volumeRef is a removed container's volume mount, as
// removeAnonymousVolumes needs it.
type volumeRef struct {
	name      string
	anonymous bool
}

type containerMounts []volumeRef

func (s *Containers) publishVolume(v volume.Volume, action string) {
	s.events.Publish(events.Event{
		Type:   events.TypeVolume,
		Action: action,
		Actor:  events.Actor{ID: v.Name, Attributes: map[string]string{"driver": v.Driver}},
	})
}

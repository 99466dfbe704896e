package engine

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// RemoveOptions tune a removal.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
	// RemoveVolumes removes the container's anonymous volumes.
	RemoveVolumes bool
}

// ContainerRemove deletes a container, its disks and its logs.
func (s *Containers) ContainerRemove(ctx context.Context, ref string, opts RemoveOptions) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	switch {
	case x.removing:
		x.mu.Unlock()
		return errRemovalInProgress(x.c.ID)
	case x.run != nil && !opts.Force && x.c.State.Paused:
		x.mu.Unlock()
		return errPausedRemove(x.c.Name)
	case x.run != nil && !opts.Force:
		x.mu.Unlock()
		return errRunningRemove(x.c.Name)
	case x.restarts.pending != nil && !opts.Force:
		x.mu.Unlock()
		return errdefs.Conflictf("cannot remove container %q: container is restarting: stop the container before removing or force remove", x.c.Name)
	}
	s.endPendingRestartLocked(x)
	x.removing = true
	r := x.run
	x.notifyLocked()
	x.mu.Unlock()

	if r != nil {
		s.forceKill(x, r)
	}
	return s.destroy(x, opts.RemoveVolumes)
}

// destroy deletes a stopped container whose removing flag the caller set,
// and with removeVolumes its anonymous volumes that no other container
// mounts (`docker rm -v`, and --rm).
func (s *Containers) destroy(x *ctr, removeVolumes bool) error {
	x.op.Lock()
	defer x.op.Unlock()
	s.endMaintenance(x)
	x.mu.Lock()
	c := x.c
	execIDs := x.execIDs
	x.mu.Unlock()

	_ = x.log.Remove()
	if err := s.store.Delete(c.ID); err != nil {
		x.mu.Lock()
		x.removing = false
		x.c.State.Status = container.StatusDead
		x.c.State.Dead = true
		x.notifyLocked()
		x.mu.Unlock()
		return err
	}
	s.names.Remove(c.ID)
	s.mu.Lock()
	delete(s.byID, c.ID)
	for _, id := range execIDs {
		delete(s.execs, id)
	}
	s.mu.Unlock()

	x.mu.Lock()
	x.removed = true
	x.notifyLocked()
	x.mu.Unlock()
	x.output.endRun()
	s.publish(c, "destroy", nil)
	if removeVolumes {
		s.removeAnonymousVolumes(c.MountPoints)
	}
	return nil
}

// ContainerRename gives a container a new name.
func (s *Containers) ContainerRename(ref, newName string) error {
	if newName == "" {
		return errdefs.InvalidParameterf("Neither old nor new names may be empty")
	}
	name, err := container.ValidateName(newName)
	if err != nil {
		return err
	}
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	old, err := s.renameLocked(x, name)
	if err != nil {
		return err
	}
	s.renameInLinks(old.Name, name)
	renamed := old
	renamed.Name = name
	s.publish(renamed, "rename", map[string]string{"oldName": old.Name})
	return nil
}

// renameLocked renames x and returns the container as it was before.
func (s *Containers) renameLocked(x *ctr, name string) (container.Container, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.c
	if old.Name == name {
		return old, errdefs.InvalidParameterf("Renaming a container with the same name as its current name")
	}
	if x.removing {
		return old, errRemovalInProgress(old.ID)
	}
	if err := s.names.Rename(old.ID, name); err != nil {
		return old, err
	}
	x.c.Name = name
	if err := s.saveLocked(x); err != nil {
		x.c.Name = old.Name
		_ = s.names.Rename(old.ID, old.Name)
		return old, err
	}
	return old, nil
}

// PruneOptions select what prune removes.
type PruneOptions struct {
	// Until keeps containers created after it (zero = no bound).
	Until time.Time
	// Labels ("key", "key=value", "label!=..." handled by the caller as
	// NotLabels) must all match.
	Labels    []string
	NotLabels []string
}

// PruneResult lists what prune removed.
type PruneResult struct {
	Deleted        []string
	SpaceReclaimed uint64
}

// ContainerPrune removes every container that is not running.
func (s *Containers) ContainerPrune(ctx context.Context, opts PruneOptions) (PruneResult, error) {
	res := PruneResult{Deleted: []string{}}
	for _, x := range s.all() {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		x.mu.Lock()
		c, busy := x.c, x.run != nil || x.removing
		x.mu.Unlock()
		if busy || (!opts.Until.IsZero() && !c.Created.Before(opts.Until)) ||
			!matchLabels(c.Config.Labels, opts.Labels) || anyLabel(c.Config.Labels, opts.NotLabels) {
			continue
		}
		size := dirSize(s.store.Dir(c.ID))
		if err := s.ContainerRemove(ctx, c.ID, RemoveOptions{}); err != nil {
			if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
				continue
			}
			return res, err
		}
		res.Deleted = append(res.Deleted, c.ID)
		res.SpaceReclaimed += uint64(size)
	}
	return res, nil
}

// anyLabel reports whether any of the label selectors matches.
func anyLabel(labels map[string]string, selectors []string) bool {
	return slices.ContainsFunc(selectors, func(sel string) bool { return matchLabels(labels, []string{sel}) })
}

// dirSize is the disk space used by the files under dir.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, ierr := d.Info(); ierr == nil && info.Mode().IsRegular() {
			total += diskUsage(info)
		}
		return nil
	})
	return total
}

package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pier-vm/pier/engine/compression"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// File operations on containers: docker cp (stat, archive, extract),
// docker diff and docker export, for running containers through their VM
// and for created or exited ones through a maintenance VM (see
// containers_maintenance.go).

// CopyOptions tune ContainerExtractToDir.
type CopyOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the other way round.
	NoOverwriteDirNonDir bool
	// CopyUIDGID gives the extracted files to the container's user
	// (docker cp -a) instead of the archive's owners.
	CopyUIDGID bool
}

// errFileNotFound is dockerd's error for a path that is not there; ref
// is the container as the client named it.
func errFileNotFound(p, ref string) error {
	return errdefs.NotFoundf("Could not find the file %s in container %s", p, ref)
}

// fileError rewords a missing path as dockerd does.
func fileError(err error, p, ref string) error {
	if errdefs.IsNotFound(err) {
		return errFileNotFound(p, ref)
	}
	return err
}

// ContainerStatPath describes a path in the container (HEAD archive).
func (s *Containers) ContainerStatPath(ctx context.Context, ref, p string) (PathStat, error) {
	x, err := s.get(ref)
	if err != nil {
		return PathStat{}, err
	}
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return PathStat{}, err
	}
	defer release()
	st, err := fs.StatPath(ctx, p)
	return st, fileError(err, p, ref)
}

// ContainerArchivePath returns a path's description and a tar of it (GET
// archive). The caller closes the reader; until then a container that is
// not running cannot start.
func (s *Containers) ContainerArchivePath(ctx context.Context, ref, p string) (PathStat, io.ReadCloser, error) {
	x, err := s.get(ref)
	if err != nil {
		return PathStat{}, nil, err
	}
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return PathStat{}, nil, err
	}
	st, rc, err := fs.ArchivePath(ctx, p)
	if err != nil {
		release()
		return PathStat{}, nil, fileError(err, p, ref)
	}
	s.publish(x.snapshot(), "archive-path", nil)
	return st, releaseOnClose{rc, release}, nil
}

// ContainerExtractToDir unpacks a tar (plain or compressed) into a
// directory of the container (PUT archive).
func (s *Containers) ContainerExtractToDir(ctx context.Context, ref, p string, opts CopyOptions, content io.Reader) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	c := x.snapshot()
	if err := checkWritablePath(c, p); err != nil {
		return err
	}
	xo := ExtractOptions{NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir}
	if opts.CopyUIDGID {
		xo.ChownUser = c.Config.User
	}
	archive, err := compression.Reader(content)
	if err != nil {
		return err
	}
	defer archive.Close()
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return err
	}
	defer release()
	if err := fs.ExtractToDir(ctx, p, xo, archive); err != nil {
		return fileError(err, p, ref)
	}
	s.publish(x.snapshot(), "extract-to-dir", nil)
	return nil
}

// checkWritablePath refuses a copy into a read-only mount or, outside the
// mounts, into a read-only root, with dockerd's words.
func checkWritablePath(c container.Container, p string) error {
	clean := path.Join("/", p)
	for _, mp := range c.MountPoints {
		dest := path.Clean(mp.Destination)
		if clean == dest || strings.HasPrefix(clean, strings.TrimSuffix(dest, "/")+"/") {
			if mp.RW {
				return nil
			}
			return errdefs.InvalidParameterf("mounted volume is marked read-only")
		}
	}
	if c.HostConfig.ReadonlyRootfs {
		return errdefs.InvalidParameterf("container rootfs is marked read-only")
	}
	return nil
}

// ContainerChanges lists the changes of the container's writable layer
// (docker diff). A container that never ran has none.
func (s *Containers) ContainerChanges(ctx context.Context, ref string) ([]Change, error) {
	x, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	if x.running() == nil {
		if _, err := os.Stat(s.writableDisk(x.snapshot().ID)); os.IsNotExist(err) {
			return []Change{}, nil
		}
	}
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return nil, err
	}
	defer release()
	return fs.Changes(ctx)
}

// ContainerExport returns a tar of the container's root file system
// (docker export). The caller closes it.
func (s *Containers) ContainerExport(ctx context.Context, ref string) (io.ReadCloser, error) {
	x, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	removing, dead, id := x.removing || x.removed, x.c.State.Dead, x.c.ID
	x.mu.Unlock()
	switch {
	case dead:
		return nil, errdefs.Conflictf("You cannot export container %s which is Dead", id)
	case removing:
		return nil, errdefs.Conflictf("You cannot export container %s which is being removed", id)
	}
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return nil, err
	}
	rc, err := fs.Export(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("Error exporting container %s: %v", ref, err)
	}
	s.publish(x.snapshot(), "export", nil)
	return releaseOnClose{rc, release}, nil
}

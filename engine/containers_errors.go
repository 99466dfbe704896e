package engine

import (
	"github.com/pier-vm/pier/errdefs"
)

// Errors worded as dockerd words them (clients match some of them).

func errNoSuchContainer(ref string) error {
	return errdefs.NotFoundf("No such container: %s", ref)
}

func errNotRunning(id string) error {
	return errdefs.Conflictf("Container %s is not running", id)
}

func errRemovalInProgress(id string) error {
	return errdefs.Conflictf("removal of container %s is already in progress", id)
}

func errRunningRemove(name string) error {
	return errdefs.Conflictf("cannot remove container %q: container is running: stop the container before removing or force remove", name)
}

func errExecPaused(ref string) error {
	return errdefs.Conflictf("Container %s is paused, unpause the container before exec", ref)
}

func errAttachPaused(ref string) error {
	return errdefs.Conflictf("container %s is paused, unpause the container before attach", ref)
}

func errPausedRemove(name string) error {
	return errdefs.Conflictf("cannot remove container %q: container is paused and must be unpaused first", name)
}

func errFilesPaused(id string) error {
	return errdefs.Conflictf("Container %s is paused, unpause the container first: the files of a paused container cannot be read or written", id)
}

//go:build linux

package init

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// mountRoot assembles the container root and switches into it without
// starting a process: a maintenance VM, booted to serve file operations
// (docker cp, diff, export) of a container that is not running.
func mountRoot(spec *proto.ContainerSpec) error {
	steps := []struct {
		name string
		run  func(*proto.ContainerSpec) error
	}{
		{"mount the image's root disk", mountImageDisk},
		{"mount the writable disk", mountWritableDisk},
		{"mount the overlay root", mountOverlay},
		{"keep the layers reachable", openLayers},
		{"mount volumes", mountVolumes},
		{"switch root", switchRoot},
	}
	for _, s := range steps {
		if err := s.run(spec); err != nil {
			logf("%s: %v", s.name, err)
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// layerFDs hold the overlay's upper directory and the image's root open:
// the switch into the container's root hides their mounts, and docker diff
// compares the two.
var layerFDs = struct{ upper, lower int }{-1, -1}

// openLayers opens the layers (O_PATH, close-on-exec: no process of the
// container inherits them).
func openLayers(*proto.ContainerSpec) error {
	upper, err := unix.Open(rwDir+"/upper", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	lower, err := unix.Open(lowerDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(upper)
		return err
	}
	layerFDs.upper, layerFDs.lower = upper, lower
	return nil
}

// layers is the agent's Layers hook: the layers as /proc/self/fd paths,
// which stay valid after the switch (/proc moves into the new root).
func layers() (upper, lower string) {
	if layerFDs.upper < 0 {
		return "", ""
	}
	return fmt.Sprintf("/proc/self/fd/%d", layerFDs.upper), fmt.Sprintf("/proc/self/fd/%d", layerFDs.lower)
}

package engine

import (
	"fmt"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/restart"
	"github.com/pier-vm/pier/errdefs"
)

// UpdateRequest is `docker update`: what is set changes, zero values keep
// the container's setting.
type UpdateRequest struct {
	// RestartPolicy replaces the policy when non-nil.
	RestartPolicy *container.RestartPolicy
	// Memory (bytes), NanoCPUs and CPUCount resize the VM at its next
	// start; a running container's VM keeps its size, so changing them
	// there is refused.
	Memory   int64
	NanoCPUs int64
	CPUCount int64
	// Ignored names the settings of the request that a VM has no
	// equivalent for (cgroup weights, cpusets, pids limit ...); each gets
	// a warning.
	Ignored []string
}

// UpdateResult is what `docker update` reports besides success.
type UpdateResult struct {
	Warnings []string
}

// ContainerUpdate changes a container's restart policy and the size of its
// VM, as dockerd's update does for the policy and the cgroup limits.
func (s *Containers) ContainerUpdate(ref string, req UpdateRequest) (UpdateResult, error) {
	var res UpdateResult
	for _, name := range req.Ignored {
		res.Warnings = append(res.Warnings, fmt.Sprintf("pier ignores %s: a container's VM is sized by its memory and CPU count only", name))
	}
	if req.RestartPolicy != nil {
		if err := restart.Validate(*req.RestartPolicy, false); err != nil {
			return res, err
		}
	}
	x, err := s.get(ref)
	if err != nil {
		return res, err
	}
	x.mu.Lock()
	c := x.c
	cannot := func(err error) error {
		return fmt.Errorf("Cannot update container %s: %w", c.ID, err)
	}
	if x.removing || x.removed || c.State.Dead {
		x.mu.Unlock()
		return res, errdefs.Conflict(cannot(fmt.Errorf(`container is marked for removal and cannot be "update"`)))
	}
	hc := c.HostConfig
	if p := req.RestartPolicy; p != nil {
		if hc.AutoRemove && !restart.IsNone(*p) {
			x.mu.Unlock()
			return res, errdefs.Conflict(cannot(fmt.Errorf("Restart policy cannot be updated because AutoRemove is enabled for the container")))
		}
		hc.RestartPolicy = *p
	}
	memMiB, cpus := c.MemoryMiB, c.CPUs
	if req.Memory != 0 || req.NanoCPUs != 0 || req.CPUCount != 0 {
		if x.run != nil || x.restarts.pending != nil {
			x.mu.Unlock()
			return res, errdefs.Conflict(cannot(fmt.Errorf("the memory and CPUs of a running container cannot change: its VM was sized when it started; stop the container, update it, then start it")))
		}
		if req.Memory != 0 {
			hc.Memory = req.Memory
		}
		if req.NanoCPUs != 0 {
			hc.NanoCPUs = req.NanoCPUs
		}
		if req.CPUCount != 0 {
			hc.CPUCount = req.CPUCount
		}
		if memMiB, cpus, err = vmSize(hc); err != nil {
			x.mu.Unlock()
			return res, err
		}
	}
	x.c.HostConfig, x.c.MemoryMiB, x.c.CPUs = hc, memMiB, cpus
	if err := s.saveLocked(x); err != nil {
		x.c = c
		x.mu.Unlock()
		return res, cannot(err)
	}
	snap := x.c
	x.mu.Unlock()
	s.publish(snap, "update", nil)
	return res, nil
}

package compat

import (
	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
)

// ContainerUpdateFromAPI converts `docker update`'s body: the restart
// policy when named, the VM's size, and the names of the limits a VM has
// no equivalent for (the engine warns about them).
func ContainerUpdateFromAPI(u container.UpdateConfig) engine.UpdateRequest {
	req := engine.UpdateRequest{Memory: u.Memory, NanoCPUs: u.NanoCPUs, CPUCount: u.CPUCount}
	if u.RestartPolicy.Name != "" {
		req.RestartPolicy = &enginecontainer.RestartPolicy{Name: string(u.RestartPolicy.Name), MaximumRetryCount: u.RestartPolicy.MaximumRetryCount}
	}
	r := u.Resources
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"CPUShares", r.CPUShares != 0},
		{"CPUPeriod", r.CPUPeriod != 0},
		{"CPUQuota", r.CPUQuota != 0},
		{"CPURealtimePeriod", r.CPURealtimePeriod != 0},
		{"CPURealtimeRuntime", r.CPURealtimeRuntime != 0},
		{"CpusetCpus", r.CpusetCpus != ""},
		{"CpusetMems", r.CpusetMems != ""},
		{"BlkioWeight", r.BlkioWeight != 0},
		{"MemoryReservation", r.MemoryReservation != 0},
		{"MemorySwap", r.MemorySwap != 0},
		{"PidsLimit", r.PidsLimit != nil},
	} {
		if f.set {
			req.Ignored = append(req.Ignored, f.name)
		}
	}
	return req
}

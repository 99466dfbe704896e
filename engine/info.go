package engine

// SystemInfo is what `docker info` shows of the engine, in engine terms.
type SystemInfo struct {
	Root          string
	Driver, Accel string
	Emulates      []string
	// VMStart is how VMs start ("template": clones of a template VM per
	// shape, else "cold") and VMStarts counts them so far.
	VMStart, VMStarts                    string
	Images                               int
	Containers, Running, Paused, Stopped int
	// LiveRestore says containers keep running while the daemon is down.
	LiveRestore bool
}

// SystemInfo counts images and containers and describes the VM driver.
func (e *Engine) SystemInfo() SystemInfo {
	info := SystemInfo{Root: e.cfg.Root, Driver: e.cfg.Driver, Accel: e.cfg.Accel, Emulates: e.cfg.Emulates, VMStart: "cold", LiveRestore: e.liveRestore}
	if e.cfg.VMStart != nil {
		info.VMStart, info.VMStarts = e.cfg.VMStart()
	}
	if imgs, err := e.images.List(); err == nil {
		info.Images = len(imgs)
	}
	all, _ := e.ContainerList(ListOptions{All: true})
	for _, c := range all {
		info.Containers++
		switch {
		case c.State.Paused:
			info.Paused++
		case c.State.Running:
			info.Running++
		default:
			info.Stopped++
		}
	}
	return info
}

package compat

import (
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/storage"
	"github.com/docker/go-units"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
)

// graphDriver is what inspect reports as the storage driver: the guest
// mounts an overlay of the image disk and the container's disk.
const graphDriver = "overlay2"

// ContainerInspect converts an engine container to `docker inspect`'s
// answer.
func ContainerInspect(info *engine.Info) container.InspectResponse {
	c := info.Container
	var size *int64
	if info.SizeRw > 0 {
		size = &info.SizeRw
	}
	return container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID:           c.ID,
			Created:      formatTime(c.Created),
			Path:         c.Path,
			Args:         orEmpty(c.Args),
			State:        stateToAPI(c.State, info.RemovalInProgress),
			Image:        c.ImageID,
			LogPath:      info.LogPath,
			Name:         c.Name,
			RestartCount: c.RestartCount,
			Driver:       graphDriver,
			Platform:     c.Platform.OS,
			ExecIDs:      info.ExecIDs,
			HostConfig:   hostConfigToAPI(c.HostConfig),
			GraphDriver:  storage.DriverData{Name: graphDriver, Data: map[string]string{}},
			SizeRw:       size,
		},
		Mounts:          mountPoints(c),
		Config:          containerConfigToAPI(c.Config),
		NetworkSettings: networkSettingsToAPI(c),
	}
}

func stateToAPI(s enginecontainer.State, removing bool) *container.State {
	status := s.Status
	if removing {
		status = enginecontainer.StatusRemoving
	}
	if status == "" {
		status = enginecontainer.StatusCreated
	}
	return &container.State{
		Status:     status,
		Running:    s.Running,
		Paused:     s.Paused,
		Restarting: s.Restarting,
		OOMKilled:  s.OOMKilled,
		Dead:       s.Dead,
		Pid:        s.Pid,
		ExitCode:   s.ExitCode,
		Error:      s.Error,
		StartedAt:  formatTime(s.StartedAt),
		FinishedAt: formatTime(s.FinishedAt),
		Health:     healthToAPI(s.Health),
	}
}

// healthToAPI converts the health check's state (nil: none).
func healthToAPI(h *enginecontainer.Health) *container.Health {
	if h == nil {
		return nil
	}
	out := &container.Health{Status: container.HealthStatus(h.Status), FailingStreak: h.FailingStreak, Log: []*container.HealthcheckResult{}}
	for _, r := range h.Log {
		out.Log = append(out.Log, &container.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
	}
	return out
}

// formatTime is Docker's inspect time format; the zero time reads
// "0001-01-01T00:00:00Z".
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ContainerSummary converts one container to a `docker ps` line.
func ContainerSummary(s engine.Summary, now time.Time) container.Summary {
	c := s.Container
	state := c.State.Status
	if s.RemovalInProgress {
		state = enginecontainer.StatusRemoving
	}
	labels := c.Config.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	out := container.Summary{
		ID:              c.ID,
		Names:           []string{c.Name},
		Image:           c.Config.Image,
		ImageID:         c.ImageID,
		Command:         commandLine(c.Path, c.Args),
		Created:         c.Created.Unix(),
		Ports:           portsSummary(c.Ports),
		Labels:          labels,
		State:           state,
		Status:          StatusLine(c.State, s.RemovalInProgress, now),
		Mounts:          mountPoints(c),
		NetworkSettings: &container.NetworkSettingsSummary{Networks: summaryNetworks(c)},
	}
	out.HostConfig.NetworkMode = c.HostConfig.NetworkMode
	if out.HostConfig.NetworkMode == "" {
		out.HostConfig.NetworkMode = "bridge"
	}
	return out
}

// healthText is the health part of `docker ps`'s status: "health:
// starting", "healthy", "unhealthy".
func healthText(status string) string {
	if status == enginecontainer.HealthStarting {
		return "health: starting"
	}
	return status
}

// StatusLine is `docker ps`'s STATUS column: "Up 3 seconds",
// "Exited (0) 2 seconds ago", "Created", ...
func StatusLine(s enginecontainer.State, removing bool, now time.Time) string {
	switch {
	case removing:
		return "Removal In Progress"
	case s.Dead:
		return "Dead"
	case s.Running && s.Paused:
		return fmt.Sprintf("Up %s (Paused)", units.HumanDuration(now.Sub(s.StartedAt)))
	case s.Running && s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
	case s.Running && s.Health != nil:
		return fmt.Sprintf("Up %s (%s)", units.HumanDuration(now.Sub(s.StartedAt)), healthText(s.Health.Status))
	case s.Running:
		return "Up " + units.HumanDuration(now.Sub(s.StartedAt))
	case s.StartedAt.IsZero() && s.FinishedAt.IsZero():
		return "Created"
	case s.FinishedAt.IsZero():
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, units.HumanDuration(now.Sub(s.FinishedAt)))
}

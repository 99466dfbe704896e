package compat

import (
	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/engine"
)

// ExecConfigFromAPI converts an exec create request.
func ExecConfigFromAPI(o container.ExecOptions) engine.ExecConfig {
	cfg := engine.ExecConfig{
		Cmd:          o.Cmd,
		Env:          o.Env,
		WorkingDir:   o.WorkingDir,
		User:         o.User,
		Tty:          o.Tty,
		AttachStdin:  o.AttachStdin,
		AttachStdout: o.AttachStdout,
		AttachStderr: o.AttachStderr,
		Privileged:   o.Privileged,
		DetachKeys:   o.DetachKeys,
	}
	if o.ConsoleSize != nil {
		cfg.ConsoleSize = *o.ConsoleSize
	}
	return cfg
}

// ExecInspectResponse is `GET /exec/{id}/json`'s answer (dockerd's
// backend.ExecInspect, whose package pulls in dependencies pier does not
// otherwise need).
type ExecInspectResponse struct {
	ID            string
	Running       bool
	ExitCode      *int
	ProcessConfig *ExecProcessConfig
	OpenStdin     bool
	OpenStderr    bool
	OpenStdout    bool
	CanRemove     bool
	ContainerID   string
	DetachKeys    []byte
	Pid           int
}

// ExecProcessConfig describes an exec's process.
type ExecProcessConfig struct {
	Tty        bool     `json:"tty"`
	Entrypoint string   `json:"entrypoint"`
	Arguments  []string `json:"arguments"`
	Privileged *bool    `json:"privileged,omitempty"`
	User       string   `json:"user,omitempty"`
}

// ExecInspect converts an exec to `docker exec inspect`'s answer.
func ExecInspect(info *engine.ExecInfo) ExecInspectResponse {
	entrypoint, args := "", []string{}
	if len(info.Config.Cmd) > 0 {
		entrypoint, args = info.Config.Cmd[0], info.Config.Cmd[1:]
	}
	privileged := info.Config.Privileged
	return ExecInspectResponse{
		ID:       info.ID,
		Running:  info.Running,
		ExitCode: info.ExitCode,
		ProcessConfig: &ExecProcessConfig{
			Tty:        info.Config.Tty,
			Entrypoint: entrypoint,
			Arguments:  args,
			Privileged: &privileged,
			User:       info.Config.User,
		},
		OpenStdin:   info.Config.AttachStdin,
		OpenStdout:  info.Config.AttachStdout,
		OpenStderr:  info.Config.AttachStderr,
		CanRemove:   info.CanRemove,
		ContainerID: info.ContainerID,
		DetachKeys:  []byte(info.Config.DetachKeys),
		Pid:         info.Pid,
	}
}

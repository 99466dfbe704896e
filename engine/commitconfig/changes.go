// Package commitconfig builds the configuration of an image made from a
// container (docker commit) as dockerd does: the --change instructions
// (Dockerfile's CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
// STOPSIGNAL, USER, VOLUME, WORKDIR) applied to a container config,
// what the request left out filled from the container's config, and the
// result as an image's run configuration.
package commitconfig

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// changeInstructions are the Dockerfile instructions a commit accepts
// (dockerd's validCommitCommands).
var changeInstructions = map[string]bool{
	"cmd": true, "entrypoint": true, "env": true, "expose": true, "healthcheck": true, "label": true,
	"onbuild": true, "stopsignal": true, "user": true, "volume": true, "workdir": true,
}

// defaultShell runs shell-form CMD and ENTRYPOINT without a SHELL.
var defaultShell = []string{"/bin/sh", "-c"}

// ApplyChanges applies Dockerfile instructions, one or more per change,
// to cfg, as dockerd's BuildFromConfig does: parsed as one Dockerfile,
// variables expanded from the config's environment, shell-form commands
// run by the config's Shell or /bin/sh -c. Any error is an invalid
// parameter with dockerd's words ("FOO is not a valid change command").
func ApplyChanges(cfg container.Config, changes []string) (container.Config, error) {
	if len(changes) == 0 {
		return cfg, nil
	}
	ast, err := parser.Parse(strings.NewReader(strings.Join(changes, "\n")))
	if err != nil {
		return container.Config{}, errdefs.InvalidParameter(err)
	}
	out := clone(cfg)
	lex := shell.NewLex(ast.EscapeToken)
	cmdSet := false
	for _, n := range ast.AST.Children {
		if !changeInstructions[strings.ToLower(n.Value)] {
			return container.Config{}, errdefs.InvalidParameterf("%s is not a valid change command", n.Value)
		}
		cmd, err := instructions.ParseCommand(n)
		if err != nil {
			return container.Config{}, errdefs.InvalidParameter(err)
		}
		envs := shell.EnvsFromSlice(out.Env)
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				w, _, err := lex.ProcessWord(word, envs)
				return w, err
			})
			if err != nil {
				return container.Config{}, errdefs.InvalidParameter(err)
			}
		}
		if err := apply(&out, cmd, lex, envs, &cmdSet); err != nil {
			return container.Config{}, errdefs.InvalidParameter(err)
		}
	}
	return out, nil
}

// apply is one instruction (dockerd's dispatchers).
func apply(c *container.Config, cmd instructions.Command, lex *shell.Lex, envs shell.EnvGetter, cmdSet *bool) error {
	switch cmd := cmd.(type) {
	case *instructions.CmdCommand:
		c.Cmd = commandLine(cmd.ShellDependantCmdLine, c.Shell)
		c.ArgsEscaped = false
		if len(cmd.CmdLine) != 0 {
			*cmdSet = true
		}
	case *instructions.EntrypointCommand:
		c.Entrypoint = commandLine(cmd.ShellDependantCmdLine, c.Shell)
		c.ArgsEscaped = false
		if !*cmdSet {
			c.Cmd = nil
		}
	case *instructions.EnvCommand:
		for _, kv := range cmd.Env {
			c.Env = setEnv(c.Env, kv.Key, kv.Value)
		}
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range cmd.Ports {
			words, err := lex.ProcessWords(p, envs)
			if err != nil {
				return err
			}
			ports = append(ports, words...)
		}
		exposed, _, err := nat.ParsePortSpecs(ports)
		if err != nil {
			return err
		}
		for p := range exposed {
			if !slices.Contains(c.ExposedPorts, string(p)) {
				c.ExposedPorts = append(c.ExposedPorts, string(p))
			}
		}
		slices.Sort(c.ExposedPorts)
	case *instructions.HealthCheckCommand:
		h := cmd.Health
		c.Healthcheck = &container.Healthcheck{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries,
		}
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range cmd.Labels {
			c.Labels[kv.Key] = kv.Value
		}
	case *instructions.OnbuildCommand:
		c.OnBuild = append(c.OnBuild, cmd.Expression)
	case *instructions.StopSignalCommand:
		if !validSignal(cmd.Signal) {
			return fmt.Errorf("Invalid signal: %s", cmd.Signal)
		}
		c.StopSignal = cmd.Signal
	case *instructions.UserCommand:
		c.User = cmd.User
	case *instructions.VolumeCommand:
		for _, v := range cmd.Volumes {
			if v == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			if !slices.Contains(c.Volumes, v) {
				c.Volumes = append(c.Volumes, v)
			}
		}
		slices.Sort(c.Volumes)
	case *instructions.WorkdirCommand:
		if cmd.Path == "" {
			return errors.New("cannot normalize nothing")
		}
		if path.IsAbs(cmd.Path) {
			c.WorkingDir = path.Clean(cmd.Path)
		} else {
			c.WorkingDir = path.Join("/", c.WorkingDir, cmd.Path)
		}
	default:
		return fmt.Errorf("%s is not a valid change command", strings.ToLower(cmd.Name()))
	}
	return nil
}

// commandLine is a CMD's or ENTRYPOINT's argv: the JSON form as written,
// the shell form run by shell (default /bin/sh -c); an empty one is [].
func commandLine(cl instructions.ShellDependantCmdLine, sh []string) []string {
	if len(cl.CmdLine) == 0 {
		return []string{}
	}
	if !cl.PrependShell {
		return slices.Clone(cl.CmdLine)
	}
	if len(sh) == 0 {
		sh = defaultShell
	}
	return append(slices.Clone(sh), cl.CmdLine...)
}

// setEnv replaces the entry of key in env or appends one.
func setEnv(env []string, key, value string) []string {
	kv := key + "=" + value
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// validSignal accepts what dockerd's STOPSIGNAL does (engine.ParseSignal's
// rule): a number from 1 to 64 or a signal name, with or without SIG, in
// any case.
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n > 0 && n <= 64
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return unix.SignalNum(name) != 0
}

// clone is a deep copy of c (the parts changes modify).
func clone(c container.Config) container.Config {
	out := c
	out.Env = slices.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.ExposedPorts = slices.Clone(c.ExposedPorts)
	out.Volumes = slices.Clone(c.Volumes)
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	out.Labels = maps.Clone(c.Labels)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		out.Healthcheck = &h
	}
	return out
}

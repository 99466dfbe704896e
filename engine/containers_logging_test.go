package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// Log drivers and options at create, as dockerd checks them: json-file
// and local with their options, none, other known drivers with a warning,
// unknown drivers and options refused with dockerd's words; logs of a
// none container cannot be read.
func TestLogDriversAtCreate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	create := func(driver string, opts map[string]string) (engine.CreateResult, error) {
		return f.c.ContainerCreate(ctx, engine.CreateRequest{Config: container.Config{Image: "busybox", Cmd: []string{"true"}},
			HostConfig: container.HostConfig{LogType: driver, LogConfig: opts}})
	}
	for _, c := range []struct {
		driver string
		opts   map[string]string
		warn   string
	}{
		{"", map[string]string{"max-size": "10m", "max-file": "3"}, ""},
		{"json-file", map[string]string{"max-size": "1k", "max-file": "2", "compress": "true", "tag": "x", "mode": "non-blocking", "max-buffer-size": "4m"}, ""},
		{"local", map[string]string{"max-size": "20m"}, ""},
		{"none", nil, ""},
		{"syslog", map[string]string{"syslog-address": "udp://x:514"}, "the syslog log driver is not available"},
	} {
		res, err := create(c.driver, c.opts)
		if err != nil {
			t.Errorf("%s %v: %v", c.driver, c.opts, err)
			continue
		}
		if got := strings.Join(res.Warnings, "\n"); (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("%s %v: warnings %q, want %q", c.driver, c.opts, got, c.warn)
		}
	}
	for _, c := range []struct {
		driver string
		opts   map[string]string
		want   string
	}{
		{"bogus", nil, "logger: no log driver named 'bogus' is registered"},
		{"json-file", map[string]string{"color": "red"}, "unknown log opt 'color' for json-file log driver"},
		{"local", map[string]string{"tag": "x"}, "unknown log opt 'tag' for log driver local"},
		{"", map[string]string{"max-size": "lots"}, "invalid size"},
		{"", map[string]string{"max-size": "0"}, "max-size must be a positive number"},
		{"", map[string]string{"max-file": "0"}, "max-file cannot be less than 1"},
		{"", map[string]string{"compress": "true", "max-size": "1m"}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{"", map[string]string{"mode": "sometimes"}, "logger: logging mode not supported: sometimes"},
	} {
		if _, err := create(c.driver, c.opts); !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %q", c.driver, c.opts, err, c.want)
		}
	}

	id := f.createCfg(t, "quiet", container.Config{Cmd: []string{"echo", "hi"}}, container.HostConfig{LogType: "none"})
	err := f.c.ContainerLogs(ctx, id, engine.LogsOptions{Stdout: true, Tail: -1}, func(engine.LogEntry) error { return nil })
	if errdefs.KindOf(err) != errdefs.KindNotImplemented || err.Error() != "configured logging driver does not support reading" {
		t.Fatalf("logs of a none container: %v", err)
	}
}

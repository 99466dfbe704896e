package netd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// startTimeout bounds the wait for a new helper's control socket.
const startTimeout = 15 * time.Second

// Start returns a client of a helper serving cfg in dir: the one already
// running there when it serves the same network, else a new one (a helper
// serving another network is stopped first). A new helper is the command
// exe args... (pierd passes its own binary and `net-helper --dir DIR`),
// started in a session of its own so that it outlives the caller and its
// process group's signals, with stdin from /dev/null and stdout and stderr
// appended to dir/helper.log; Start waits, bounded, until it answers.
func Start(ctx context.Context, dir string, cfg Config, exe string, args ...string) (*Client, error) {
	cfg = cfg.normal()
	if !cfg.Subnet.IsValid() || !cfg.Subnet.Contains(cfg.Gateway) {
		return nil, fmt.Errorf("netd: gateway %v is not in subnet %v", cfg.Gateway, cfg.Subnet)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c, err := Connect(ctx, dir)
	switch {
	case err == nil && c.cfg == cfg:
		return c, nil
	case err == nil:
		if err := c.Stop(ctx); err != nil {
			return nil, fmt.Errorf("netd: replacing the helper in %s: %w", dir, err)
		}
	case !errors.Is(err, ErrNotRunning):
		return nil, err
	}
	if err := writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	exited, err := spawn(dir, exe, args)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		c, err := Connect(ctx, dir)
		if err == nil {
			return c, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("netd: the helper for %s exited at start: %s", dir, logTail(dir))
		case <-ctx.Done():
			return nil, fmt.Errorf("netd: the helper for %s does not answer: %w (%s)", dir, err, logTail(dir))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// spawn starts the helper process detached; exited is closed when it
// ends (while this process lives: it is reaped here).
func spawn(dir, exe string, args []string) (exited <-chan struct{}, err error) {
	log, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(exe, args...)
	cmd.Dir = "/"
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netd: starting the helper for %s: %w", dir, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return done, nil
}

// logTail is the end of dir's helper.log, for errors.
func logTail(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, logFile))
	if err != nil {
		return "no log"
	}
	b = bytes.TrimSpace(b)
	if len(b) > 1000 {
		b = b[len(b)-1000:]
	}
	if len(b) == 0 {
		return "empty log"
	}
	return "log: " + string(b)
}

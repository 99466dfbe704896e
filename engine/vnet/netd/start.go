package netd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pier-vm/pier/internal/atomicfile"
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
		// A helper holds the directory but does not answer, or speaks
		// another protocol (an older pierd's): it goes by signal.
		if err := terminate(ctx, dir); err != nil {
			return nil, err
		}
	}
	Sweep(dir)
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

// Sweep removes what a killed helper or a killed pierd left half-written
// in dir. Only for a dir where no helper runs (Connect said
// ErrNotRunning, or it was stopped).
func Sweep(dir string) {
	atomicfile.SweepTemps(filepath.Join(dir, configFile))
	atomicfile.SweepTemps(filepath.Join(dir, pidFile))
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

// terminate ends the helper holding dir's lock by its pid file: SIGTERM
// (it stops as when asked), then SIGKILL after stopTimeout.
func terminate(ctx context.Context, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return fmt.Errorf("netd: a helper holds %s and has no pid file: %w", dir, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("netd: %s in %s is malformed: %q", pidFile, dir, b)
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	wctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if waitGone(wctx, dir) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	kctx, kcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer kcancel()
	if !waitGone(kctx, dir) {
		return fmt.Errorf("netd: the helper in %s (pid %d) does not stop", dir, pid)
	}
	return nil
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

package engine

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/pier-vm/pier/engine/containerlog"
	"github.com/pier-vm/pier/errdefs"
)

// LogEntry is one record of a container's output.
type LogEntry = containerlog.Entry

// LogsOptions select what `docker logs` shows.
type LogsOptions struct {
	Stdout, Stderr bool
	// Follow keeps streaming while the container runs.
	Follow bool
	// Since and Until bound the records' times (zero = unbounded).
	Since, Until time.Time
	// Tail keeps the last Tail records; negative means all.
	Tail int
	// Ready, when set, is called once the logs are known to be readable,
	// before the first record: where an API answer's head goes out (an
	// error before it, such as the none driver's, is a plain error).
	Ready func()
}

// ContainerLogs calls emit for every matching record of the container's
// output, from the host-side log (it outlives the VM and the daemon).
func (s *Containers) ContainerLogs(ctx context.Context, ref string, opts LogsOptions, emit func(LogEntry) error) error {
	if !opts.Stdout && !opts.Stderr {
		return errdefs.InvalidParameterf("Bad parameters: you must choose at least one stream")
	}
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	if !x.log.Readable() {
		return errdefs.NotImplemented(containerlog.ErrNotReadable) // the none driver, as dockerd answers
	}
	if opts.Ready != nil {
		opts.Ready()
	}
	err = x.log.Read(ctx, containerlog.ReadOptions{
		Stdout: opts.Stdout,
		Stderr: opts.Stderr,
		Since:  opts.Since,
		Until:  opts.Until,
		Tail:   opts.Tail,
		Follow: opts.Follow,
	}, emit)
	return err
}

// AttachOptions say what an attach client wants. A nil writer or reader
// means that stream is not attached.
type AttachOptions struct {
	// Logs replays the output logged so far first.
	Logs bool
	// Stream follows the output of the current run, or of the next one
	// when the container is not running, until it ends.
	Stream bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Attached, when set, is called once the attach is registered for the
	// container's output, before anything is written: a client that starts
	// the container after it hears back misses nothing.
	Attached func()
}

// ContainerAttach connects a client to the container's stdio and returns
// when the run it watched ended, a write to the client failed, the client's
// stdin ended (unless the container closes its stdin then: StdinOnce
// without TTY), or ctx ended. Stdin is ignored unless the container was
// created with OpenStdin.
func (s *Containers) ContainerAttach(ctx context.Context, ref string, opts AttachOptions) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	c := x.snapshot()
	if c.State.Paused {
		return errAttachPaused(ref)
	}
	attached := func() {
		if opts.Attached != nil {
			opts.Attached()
		}
	}
	// Replayed logs are written before the live output is joined, so the
	// client must have its head first; without logs the head waits for
	// the registration below.
	if !opts.Stream || opts.Logs {
		attached()
	}
	if opts.Logs {
		err := x.log.Read(ctx, containerlog.ReadOptions{Stdout: opts.Stdout != nil, Stderr: opts.Stderr != nil, Tail: -1},
			func(e LogEntry) error {
				w := opts.Stdout
				if e.Stream == containerlog.Stderr {
					w = opts.Stderr
				}
				_, err := w.Write(e.Line)
				return err
			})
		if errors.Is(err, containerlog.ErrNotReadable) {
			err = nil // the none driver: nothing to replay
		}
		if err != nil {
			return err
		}
	}
	if !opts.Stream {
		return nil
	}
	sub := x.output.add(opts.Stdout, opts.Stderr)
	defer x.output.remove(sub)
	attached()
	s.publish(c, "attach", nil)

	stdinDone := make(chan struct{})
	if opts.Stdin != nil && c.Config.OpenStdin {
		closeStdin := c.Config.StdinOnce
		endsAttach := !closeStdin || c.Config.Tty
		w := x.stdin.writer()
		go func() {
			_, err := io.Copy(w, opts.Stdin)
			if closeStdin && (err == nil || errors.Is(err, io.EOF)) {
				_ = w.Close()
			}
			if endsAttach {
				close(stdinDone)
			}
		}()
	}
	select {
	case <-sub.done:
	case <-stdinDone:
	case <-ctx.Done():
	}
	return nil
}

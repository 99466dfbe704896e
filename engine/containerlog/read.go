package containerlog

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// ReadOptions select what Read returns.
type ReadOptions struct {
	Stdout, Stderr bool
	// Since and Until bound the records' times (zero = unbounded; Until is
	// exclusive of later records).
	Since, Until time.Time
	// Tail keeps only the last Tail matching records; negative means all.
	Tail int
	// Follow keeps reading new records while the session is open.
	Follow bool
}

// Read calls emit for each matching record, in order. With Follow it then
// waits for new records until the session ends, ctx ends, or Until passes.
// A missing file is an empty log.
func (l *Log) Read(ctx context.Context, opts ReadOptions, emit func(Entry) error) error {
	f, err := os.Open(l.path)
	if err != nil {
		if !os.IsNotExist(err) {
			return err
		}
		if !opts.Follow {
			return nil
		}
		// Nothing written yet: wait for the session's first record.
		if f, err = l.waitForFile(ctx); f == nil || err != nil {
			return err
		}
	}
	defer f.Close()
	r := newReader(f)

	match := func(e Entry) bool {
		if (e.Stream == Stdout && !opts.Stdout) || (e.Stream == Stderr && !opts.Stderr) {
			return false
		}
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			return false
		}
		return opts.Until.IsZero() || !e.Time.After(opts.Until)
	}

	// Snapshot of what is there now, tailed.
	changed, active := l.watch()
	var tail []Entry
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			partial = line
			break
		}
		if err != nil {
			return err
		}
		e, derr := decode(line)
		if derr != nil || !match(e) {
			continue
		}
		if opts.Tail < 0 {
			if err := emit(e); err != nil {
				return err
			}
			continue
		}
		tail = append(tail, e)
		if len(tail) > opts.Tail {
			tail = tail[1:]
		}
	}
	for _, e := range tail {
		if err := emit(e); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	return l.follow(ctx, r, partial, changed, active, opts, match, emit)
}

// follow emits records appended after the snapshot until the session ends.
func (l *Log) follow(ctx context.Context, r *bufio.Reader, partial []byte, changed <-chan struct{}, active bool,
	opts ReadOptions, match func(Entry) bool, emit func(Entry) error) error {
	var until <-chan time.Time
	if !opts.Until.IsZero() {
		t := time.NewTimer(time.Until(opts.Until))
		defer t.Stop()
		until = t.C
	}
	for active {
		select {
		case <-ctx.Done():
			return nil
		case <-until:
			return nil
		case <-changed:
		}
		changed, active = l.watch()
		for {
			line, err := r.ReadBytes('\n')
			partial = append(partial, line...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			e, derr := decode(partial)
			partial = nil
			if derr != nil || !match(e) {
				continue
			}
			if err := emit(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitForFile waits while a session is open for the file to appear.
func (l *Log) waitForFile(ctx context.Context) (*os.File, error) {
	for {
		changed, active := l.watch()
		f, err := os.Open(l.path)
		if err == nil {
			return f, nil
		}
		if !os.IsNotExist(err) {
			return nil, err
		}
		if !active {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-changed:
		}
	}
}

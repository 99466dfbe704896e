package containerlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

// ErrNotReadable is Read's answer for a log that keeps nothing (the none
// driver).
var ErrNotReadable = errors.New("configured logging driver does not support reading")

// Read calls emit for each matching record, in order: the rotated files'
// records first, oldest first. With Follow it then waits for new records
// until the session ends, ctx ends, or Until passes, following the file
// across rotations. A missing file is an empty log.
func (l *Log) Read(ctx context.Context, opts ReadOptions, emit func(Entry) error) error {
	if !l.Readable() {
		return ErrNotReadable
	}
	snap, err := l.openFiles()
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range snap.files {
			f.Close()
		}
	}()
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
	var tail []Entry
	keep := emit
	if opts.Tail >= 0 {
		keep = func(e Entry) error {
			tail = append(tail, e)
			if len(tail) > opts.Tail {
				tail = tail[1:]
			}
			return nil
		}
	}
	var partial []byte
	var r *bufio.Reader
	for _, f := range snap.files {
		if r, err = recordReader(f); err != nil {
			return err
		}
		partial = nil
		if err := readRecords(r, &partial, match, keep); err != nil {
			return err
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
	if !snap.current {
		// Nothing written yet: wait for the session's first record.
		f, err := l.waitForFile(ctx)
		if f == nil || err != nil {
			return err
		}
		defer f.Close()
		r, partial = newReader(f), nil
		snap.changed, snap.active, snap.generation = l.watch()
	}
	return l.follow(ctx, r, partial, snap, opts, match, emit)
}

// snapshot is the log's files opened at one moment, oldest first, and the
// state that moment had.
type snapshot struct {
	files      []*os.File
	current    bool // files ends with the current file (it existed)
	changed    <-chan struct{}
	active     bool
	generation int
}

// openFiles opens the rotated files and the current one under the lock,
// so that no rotation falls between them.
func (l *Log) openFiles() (snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	snap := snapshot{changed: l.changed, active: l.file != nil, generation: l.generation}
	files, err := openExisting(l.files())
	if err != nil {
		return snapshot{}, err
	}
	snap.files = files
	snap.current = len(files) > 0 && files[len(files)-1].Name() == l.path
	return snap, nil
}

// openExisting opens paths in order, leaving out those that do not exist;
// on another error it closes what it opened.
func openExisting(paths []string) ([]*os.File, error) {
	var files []*os.File
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// follow emits records appended after the snapshot until the session
// ends; when the file was rotated, it reads the old one to its end and
// goes on from the start of the new one.
func (l *Log) follow(ctx context.Context, r *bufio.Reader, partial []byte, snap snapshot,
	opts ReadOptions, match func(Entry) bool, emit func(Entry) error) error {
	var until <-chan time.Time
	if !opts.Until.IsZero() {
		t := time.NewTimer(time.Until(opts.Until))
		defer t.Stop()
		until = t.C
	}
	changed, active, generation := snap.changed, snap.active, snap.generation
	var opened *os.File // a file follow opened after a rotation
	defer func() {
		if opened != nil {
			opened.Close()
		}
	}()
	for active {
		select {
		case <-ctx.Done():
			return nil
		case <-until:
			return nil
		case <-changed:
		}
		var gen int
		changed, active, gen = l.watch()
		for {
			if err := readRecords(r, &partial, match, emit); err != nil {
				return err
			}
			if gen == generation {
				break
			}
			// Rotated: the files rotated since, then the new one, each from
			// its start.
			files, now, err := l.openSince(generation)
			if err != nil {
				return err
			}
			for _, f := range files[:len(files)-1] {
				var part []byte
				rr, err := recordReader(f)
				if err == nil {
					err = readRecords(rr, &part, match, emit)
				}
				f.Close()
				if err != nil {
					for _, f := range files[len(files)-1:] {
						f.Close()
					}
					return err
				}
			}
			if opened != nil {
				opened.Close()
			}
			opened = files[len(files)-1]
			r, partial, generation, gen = newReader(opened), nil, now, now
		}
	}
	return nil
}

// openSince opens, under the lock, the files rotated after generation
// that are still kept (oldest first) and the current file last, and
// returns the generation they belong to.
func (l *Log) openSince(generation int) ([]*os.File, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var paths []string
	for i := min(l.generation-generation-1, l.rotation.MaxFiles-1); i >= 1; i-- {
		if p := l.rotatedFile(i); p != "" {
			paths = append(paths, p)
		}
	}
	files, err := openExisting(append(paths, l.path))
	if err == nil && (len(files) == 0 || files[len(files)-1].Name() != l.path) {
		for _, f := range files {
			f.Close()
		}
		err = fmt.Errorf("log %s: the current file is gone", l.path)
	}
	return files, l.generation, err
}

// readRecords emits the matching records r holds up to its end, keeping
// a last incomplete line in partial.
func readRecords(r *bufio.Reader, partial *[]byte, match func(Entry) bool, emit func(Entry) error) error {
	for {
		line, err := r.ReadBytes('\n')
		*partial = append(*partial, line...)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		e, derr := decode(*partial)
		*partial = nil
		if derr != nil || !match(e) {
			continue
		}
		if err := emit(e); err != nil {
			return err
		}
	}
}

// waitForFile waits while a session is open for the file to appear.
func (l *Log) waitForFile(ctx context.Context) (*os.File, error) {
	for {
		changed, active, _ := l.watch()
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

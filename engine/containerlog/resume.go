package containerlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// A run of a container outlives the daemon (live restore): the daemon
// that stops leaves the session without writing its partial lines
// (Detach), and the next one resumes the same session (ResumeSession)
// after counting what the run's records hold, so that the guest sends
// exactly the rest: no line lost, none written twice.

// Size is the file's current length (0 when it does not exist yet): where
// the next session's records will start.
func (l *Log) Size() int64 {
	fi, err := os.Stat(l.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Detach closes the file of an open session without writing the partial
// lines: the process goes on, and a later ResumeSession gets those bytes
// again from the guest.
func (l *Log) Detach() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeLocked()
}

// ResumeSession reopens the session of a run whose records start at byte
// start of the file (or, when the run rotated the file, at its start, with
// what the rotated files hold taken from the run's counts file). A torn
// last record (the daemon died mid-write) is cut off. It returns the writers, as StartSession does, and how many bytes of
// stdout and stderr the run's records hold.
func (l *Log) ResumeSession(start int64) (stdout, stderr io.Writer, stdoutBytes, stderrBytes int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		return nil, nil, 0, 0, fmt.Errorf("log %s: session already open", l.path)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, 0, err
	}
	before := l.readRunCounts()
	if before != nil {
		start = 0 // the run rotated the file: the current one is all its own
	}
	if start < 0 || start > fi.Size() {
		start = fi.Size() // the run's start is unknown: count nothing
	}
	end, counts, err := countRun(f, start)
	if err != nil {
		f.Close()
		return nil, nil, 0, 0, fmt.Errorf("reading log %s: %w", l.path, err)
	}
	if end < fi.Size() {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, nil, 0, 0, fmt.Errorf("cutting a torn record off log %s: %w", l.path, err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, 0, err
	}
	for stream, n := range before {
		counts[stream] += n
	}
	l.file, l.size, l.counts = f, end, counts
	out := &lineWriter{log: l, stream: Stdout}
	errw := &lineWriter{log: l, stream: Stderr}
	l.writers = []*lineWriter{out, errw}
	return out, errw, counts[Stdout], counts[Stderr], nil
}

// countRun reads the records from start on and returns where the last
// complete one ends and how many bytes each stream's records hold.
func countRun(f *os.File, start int64) (int64, map[string]int64, error) {
	counts := map[string]int64{}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return 0, nil, err
	}
	r := bufio.NewReaderSize(f, 64*1024)
	end := start
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return end, counts, nil // a last line without newline is torn
		}
		if err != nil {
			return 0, nil, err
		}
		e, derr := decode(line)
		if derr != nil {
			return end, counts, nil // torn or damaged: cut here
		}
		counts[e.Stream] += int64(len(e.Line))
		end += int64(len(line))
	}
}

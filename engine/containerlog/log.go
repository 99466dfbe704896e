// Package containerlog keeps a container's output on the host, one JSON
// record per line (like Docker's json-file driver), so logs outlive the VM
// and a daemon restart. A Log is written during a session (one run of the
// container) and read by any number of readers, who may follow the file
// until the session ends.
package containerlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pier-vm/pier/internal/atomicfile"
)

// Stream names.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// maxLine is the longest record: a longer line is cut into several records,
// as Docker does at 16 KiB.
const maxLine = 16 * 1024

// Entry is one record of the log.
type Entry struct {
	Stream string
	Time   time.Time
	// Line holds the bytes, including the trailing newline when there was one.
	Line []byte
}

// record is the on-disk form of an Entry.
type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Log is one container's log file.
type Log struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	file    *os.File // non-nil during a session
	changed chan struct{}
	writers []*lineWriter

	rotation Rotation
	// size is the current file's length during a session.
	size int64
	// counts are the bytes of each stream the session's run wrote (the
	// run's records, rotated ones included).
	counts map[string]int64
	// generation counts rotations: a follower reopens the file when it
	// changes.
	generation int
}

// New returns the log stored at path. Nothing is opened until a session
// starts; what a killed daemon left half-written beside it (a run-counts
// write, a rotated file's compression: rotate.go) is swept.
func New(path string) *Log {
	l := &Log{path: path, now: time.Now, changed: make(chan struct{})}
	atomicfile.SweepTemps(l.path)
	return l
}

// Path is the log file's path.
func (l *Log) Path() string { return l.path }

// StartSession opens the file for appending and returns one writer per
// stream. Writes are cut into lines; a last partial line is kept until more
// output or EndSession.
func (l *Log) StartSession() (stdout, stderr io.Writer, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		return nil, nil, fmt.Errorf("log %s: session already open", l.path)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	_ = os.Remove(l.runFile()) // a new run: an earlier one's counts go
	l.file, l.size, l.counts = f, fi.Size(), map[string]int64{}
	out := &lineWriter{log: l, stream: Stdout}
	errw := &lineWriter{log: l, stream: Stderr}
	l.writers = []*lineWriter{out, errw}
	return out, errw, nil
}

// EndSession writes pending partial lines, closes the file, and releases
// readers that follow it.
func (l *Log) EndSession() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	for _, w := range l.writers {
		w.flushLocked()
	}
	_ = os.Remove(l.runFile()) // the run is over: nothing will resume it
	return l.closeLocked()
}

// closeLocked closes the session's file and releases readers that follow
// it; l.mu is held.
func (l *Log) closeLocked() error {
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	l.writers = nil
	l.notifyLocked()
	return err
}

// Active reports whether a session is open.
func (l *Log) Active() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file != nil
}

// Remove deletes the files (ending any session first).
func (l *Log) Remove() error {
	_ = l.EndSession()
	for _, p := range append(l.files(), l.runFile()) {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// appendLocked writes one record; l.mu is held.
func (l *Log) appendLocked(stream string, line []byte) {
	if l.file == nil || l.rotation.MaxSize < 0 {
		return
	}
	b, err := json.Marshal(record{Log: string(line), Stream: stream, Time: l.now().UTC()})
	if err != nil {
		return
	}
	b = append(b, '\n')
	if l.needsRotationLocked(len(b)) {
		if err := l.rotateLocked(); err != nil && l.file == nil {
			return // no file to write to until the next session
		}
	}
	n, _ := l.file.Write(b)
	l.size += int64(n)
	l.counts[stream] += int64(len(line))
	l.notifyLocked()
}

func (l *Log) notifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// watch returns a channel closed at the next change, whether a session
// is open and how many rotations there were.
func (l *Log) watch() (<-chan struct{}, bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.file != nil, l.generation
}

// lineWriter cuts one stream into records.
type lineWriter struct {
	log     *Log
	stream  string
	pending []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.log.mu.Lock()
	defer w.log.mu.Unlock()
	w.pending = append(w.pending, p...)
	for {
		i := indexNewline(w.pending)
		if i < 0 {
			break
		}
		w.log.appendLocked(w.stream, w.pending[:i+1])
		w.pending = w.pending[i+1:]
	}
	for len(w.pending) >= maxLine {
		w.log.appendLocked(w.stream, w.pending[:maxLine])
		w.pending = w.pending[maxLine:]
	}
	w.pending = append([]byte(nil), w.pending...)
	return len(p), nil
}

func (w *lineWriter) flushLocked() {
	if len(w.pending) > 0 {
		w.log.appendLocked(w.stream, w.pending)
		w.pending = nil
	}
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// decode parses one on-disk line.
func decode(line []byte) (Entry, error) {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return Entry{}, err
	}
	return Entry{Stream: r.Stream, Time: r.Time, Line: []byte(r.Log)}, nil
}

// newReader buffers f for line reads.
func newReader(f *os.File) *bufio.Reader { return bufio.NewReaderSize(f, 64*1024) }

package containerlog

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/internal/atomicfile"
)

// Rotation bounds a log as the json-file driver's max-size and max-file
// options do: when a record would take the current file past MaxSize, the
// file becomes path.1 (path.1 becomes path.2, …; the oldest beyond
// MaxFiles-1 goes) and a new file starts; with MaxFiles 1 the file starts
// over empty. With Compress the rotated files are gzipped (path.1.gz, …).
// Readers see the rotated files, oldest first, then the current one.
// MaxSize 0 is no bound.
type Rotation struct {
	MaxSize  int64
	MaxFiles int
	Compress bool
}

// Discard is a Rotation that keeps nothing: the none driver.
var Discard = Rotation{MaxSize: -1}

// SetRotation sets how the log is bounded from its next record on.
func (l *Log) SetRotation(r Rotation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.MaxFiles < 1 {
		r.MaxFiles = 1
	}
	l.rotation = r
}

// Readable says whether the log keeps what it is given (not the none
// driver's).
func (l *Log) Readable() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rotation.MaxSize >= 0
}

// rotatedPath is the i-th rotated file (path.i), i ≥ 1.
func (l *Log) rotatedPath(i int) string { return l.path + "." + strconv.Itoa(i) }

// runFile holds, while a run's records span rotated files, how many bytes
// of each stream the run wrote before the current file: the part of the
// count a resumed session cannot read back from the current file
// (ResumeSession).
func (l *Log) runFile() string { return l.path + ".run" }

// needsRotationLocked says whether a record of n bytes must go to a new
// file; l.mu is held.
func (l *Log) needsRotationLocked(n int) bool {
	return l.rotation.MaxSize > 0 && l.size > 0 && l.size+int64(n) > l.rotation.MaxSize
}

// rotateLocked moves the current file aside and opens a new one, first
// recording the run's counts so far; l.mu is held and a session open.
func (l *Log) rotateLocked() error {
	b, err := json.Marshal(l.counts)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(l.runFile(), b, 0o640); err != nil {
		return err
	}
	if err := l.file.Close(); err != nil {
		return err
	}
	l.file = nil
	if l.rotation.MaxFiles > 1 {
		ext := ""
		if l.rotation.Compress {
			ext = ".gz"
		}
		for i := l.rotation.MaxFiles - 1; i >= 2; i-- {
			if err := os.Rename(l.rotatedPath(i-1)+ext, l.rotatedPath(i)+ext); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotating log %s: %w", l.path, err)
			}
		}
		if err := os.Rename(l.path, l.rotatedPath(1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotating log %s: %w", l.path, err)
		}
		if l.rotation.Compress {
			// Left uncompressed if this fails: readers take both.
			_ = gzipFile(l.rotatedPath(1))
		}
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("rotating log %s: %w", l.path, err)
	}
	l.file, l.size = f, 0
	l.generation++
	return nil
}

// readRunCounts reads what rotateLocked recorded for the run (nil when the
// run has not rotated its file).
func (l *Log) readRunCounts() map[string]int64 {
	b, err := os.ReadFile(l.runFile())
	if err != nil {
		return nil
	}
	var counts map[string]int64
	if json.Unmarshal(b, &counts) != nil {
		return nil
	}
	return counts
}

// files lists the log's files, oldest first, the current one last; a
// rotated file is path.N or, gzipped, path.N.gz.
func (l *Log) files() []string {
	var out []string
	for i := 1; ; i++ {
		p := l.rotatedFile(i)
		if p == "" {
			break
		}
		out = append([]string{p}, out...)
	}
	return append(out, l.path)
}

// rotatedFile is the i-th rotated file as it exists, path.i or path.i.gz
// ("" when neither does).
func (l *Log) rotatedFile(i int) string {
	for _, p := range []string{l.rotatedPath(i), l.rotatedPath(i) + ".gz"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// gzipFile replaces path with path.gz (written beside, then renamed).
func gzipFile(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+".gz*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if _, err := io.Copy(zw, in); err != nil {
		tmp.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o640); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path+".gz"); err != nil {
		return err
	}
	return os.Remove(path)
}

// recordReader reads f's records, gunzipping a rotated .gz file.
func recordReader(f *os.File) (*bufio.Reader, error) {
	if !strings.HasSuffix(f.Name(), ".gz") {
		return newReader(f), nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("reading log %s: %w", f.Name(), err)
	}
	return bufio.NewReaderSize(zr, 64*1024), nil
}

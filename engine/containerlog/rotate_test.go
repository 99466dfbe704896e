package containerlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordSize is the on-disk size of one test record ("lineNN\n" with a
// fixed clock).
func recordSize(t *testing.T) int64 {
	t.Helper()
	l := New(filepath.Join(t.TempDir(), "c.log"))
	l.now = func() time.Time { return time.Unix(0, 0) }
	out, _, _ := l.StartSession()
	out.Write([]byte("line00\n"))
	l.EndSession()
	return l.Size()
}

// rotatingLog is a log with a fixed clock (every record the same size)
// rotated by r, whose MaxSize counts records.
func rotatingLog(t *testing.T, r Rotation) *Log {
	t.Helper()
	l := New(filepath.Join(t.TempDir(), "c.log"))
	l.now = func() time.Time { return time.Unix(0, 0) }
	r.MaxSize *= recordSize(t)
	l.SetRotation(r)
	return l
}

// follower reads l with Follow in a goroutine: the lines it gets, and its
// end.
func follower(l *Log) (<-chan string, <-chan error) {
	lines := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- l.Read(context.Background(), ReadOptions{Stdout: true, Tail: -1, Follow: true}, func(e Entry) error {
			lines <- string(e.Line)
			return nil
		})
		close(lines)
	}()
	return lines, done
}

// writeLines starts a session of l and writes n numbered lines to stdout.
func writeLines(t *testing.T, l *Log, from, n int) {
	t.Helper()
	out, _, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		fmt.Fprintf(out, "line%02d\n", i)
	}
	if err := l.EndSession(); err != nil {
		t.Fatal(err)
	}
}

// max-size and max-file as json-file: three records a file, three files
// kept, the oldest records gone, read back in order across the files;
// with one file it starts over; Remove takes every file.
func TestRotationKeepsMaxFilesOfMaxSize(t *testing.T) {
	l := rotatingLog(t, Rotation{MaxSize: 3, MaxFiles: 3})
	writeLines(t, l, 0, 10)
	for _, p := range []string{l.path, l.path + ".1", l.path + ".2"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Size() > 3*recordSize(t) {
			t.Fatalf("%s: %v, %v", p, fi, err)
		}
	}
	if _, err := os.Stat(l.path + ".3"); !os.IsNotExist(err) {
		t.Fatalf("a fourth file: %v", err)
	}
	got := strings.Join(collect(t, l, ReadOptions{Stdout: true, Tail: -1}), "")
	if want := "stdout:line03\nstdout:line04\nstdout:line05\nstdout:line06\nstdout:line07\nstdout:line08\nstdout:line09\n"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	if got := collect(t, l, ReadOptions{Stdout: true, Tail: 4}); strings.Join(got, "") != "stdout:line06\nstdout:line07\nstdout:line08\nstdout:line09\n" {
		t.Fatalf("tail 4 across files: %q", got)
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(l.path + "*"); len(left) != 0 {
		t.Fatalf("left after Remove: %v", left)
	}

	one := rotatingLog(t, Rotation{MaxSize: 3, MaxFiles: 1})
	writeLines(t, one, 0, 7)
	if got := collect(t, one, ReadOptions{Stdout: true, Tail: -1}); strings.Join(got, "") != "stdout:line06\n" {
		t.Fatalf("one file of three records after 7: %q", got)
	}
}

// A follower goes on in the new file after a rotation, and reads the
// files rotated meanwhile when several rotations came at once, missing
// nothing that is still kept.
func TestFollowAcrossRotations(t *testing.T) {
	l := rotatingLog(t, Rotation{MaxSize: 2, MaxFiles: 4})
	out, _, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(out, "line%02d\n", 0)
	lines, done := follower(l)
	want := []string{"line00\n"}
	for i := 1; i < 12; i++ {
		if i < 6 {
			time.Sleep(20 * time.Millisecond) // the follower sees these rotations one by one
		}
		fmt.Fprintf(out, "line%02d\n", i) // the last ones in a burst of rotations
		want = append(want, fmt.Sprintf("line%02d\n", i))
	}
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case s := <-lines:
			got = append(got, s)
		case <-deadline:
			t.Fatalf("followed %q, want %q", got, want)
		}
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("followed %q, want %q", got, want)
	}
	l.EndSession()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A run that rotated its file and outlives the daemon is resumed with
// every byte it wrote counted, the rotated files' too, so the guest sends
// exactly the rest.
func TestResumeCountsTheRotatedFiles(t *testing.T) {
	l := rotatingLog(t, Rotation{MaxSize: 2, MaxFiles: 2})
	writeLines(t, l, 0, 1) // an earlier run
	start := l.Size()
	out, errw, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(out, "line%02d\n", i)
	}
	errw.Write([]byte("oops\n"))
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	l2 := New(l.path)
	l2.SetRotation(l.rotation)
	_, _, outBytes, errBytes, err := l2.ResumeSession(start)
	if err != nil {
		t.Fatal(err)
	}
	if outBytes != 5*7 || errBytes != 5 {
		t.Fatalf("resumed with %d stdout and %d stderr bytes, want 35 and 5", outBytes, errBytes)
	}
	l2.EndSession()
	// A new run forgets the old run's counts.
	if _, _, err := l2.StartSession(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.path + ".run"); !os.IsNotExist(err) {
		t.Fatalf("counts file of an ended run kept by a new one: %v", err)
	}
	l2.EndSession()
}

// The none driver keeps nothing and cannot be read.
func TestDiscardKeepsNothing(t *testing.T) {
	l := New(filepath.Join(t.TempDir(), "c.log"))
	l.now = func() time.Time { return time.Unix(0, 0) }
	l.SetRotation(Discard)
	writeLines(t, l, 0, 3)
	if l.Size() != 0 {
		t.Fatalf("a none log holds %d bytes", l.Size())
	}
	if err := l.Read(context.Background(), ReadOptions{Stdout: true, Tail: -1}, func(Entry) error { return nil }); err != ErrNotReadable {
		t.Fatalf("read of a none log: %v", err)
	}
}

// A run-counts write a killed daemon did not finish goes when the log is
// next opened.
func TestNewSweepsAnUnfinishedRunCountsWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	torn := filepath.Join(filepath.Dir(path), ".tmp-c.log.run123")
	if err := os.WriteFile(torn, []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	New(path)
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Fatalf("unfinished run-counts write kept: %v", err)
	}
}

// With compress, the rotated files are gzipped (path.1.gz, path.2.gz) and
// read back as the others, a follower's too; Remove takes them.
func TestRotationCompressesRotatedFiles(t *testing.T) {
	l := rotatingLog(t, Rotation{MaxSize: 3, MaxFiles: 3, Compress: true})
	out, _, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	lines, done := follower(l)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(out, "line%02d\n", i)
	}
	l.EndSession()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{l.path + ".1.gz", l.path + ".2.gz"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if left, _ := filepath.Glob(l.path + ".[0-9]"); len(left) != 0 {
		t.Fatalf("uncompressed rotated files left: %v", left)
	}
	if got := strings.Join(collect(t, l, ReadOptions{Stdout: true, Tail: -1}), ""); got != "stdout:line03\nstdout:line04\nstdout:line05\nstdout:line06\nstdout:line07\nstdout:line08\nstdout:line09\n" {
		t.Fatalf("read back %q", got)
	}
	var followed []string
	for s := range lines {
		followed = append(followed, s)
	}
	if len(followed) < 7 || followed[len(followed)-1] != "line09\n" {
		t.Fatalf("followed %q", followed)
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(l.path + "*"); len(left) != 0 {
		t.Fatalf("left after Remove: %v", left)
	}
}

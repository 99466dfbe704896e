package containerlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResumeCountsTheRunAndCutsATornRecord: a first run, then a second
// run interrupted by a daemon that detached (a partial line pending) and
// died mid-record; the resumed session counts only the second run's
// complete records, drops the torn one, and appends after them.
func TestResumeCountsTheRunAndCutsATornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	l := New(path)
	out, _, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	out.Write([]byte("old run\n"))
	l.EndSession()

	start := l.Size()
	out, errw, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	out.Write([]byte("one\ntw"))
	errw.Write([]byte("e1\n"))
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"log":"torn`)
	f.Close()

	out, errw, nOut, nErr, err := l.ResumeSession(start)
	if err != nil {
		t.Fatal(err)
	}
	if nOut != 4 || nErr != 3 {
		t.Fatalf("counted stdout %d stderr %d, want 4 and 3", nOut, nErr)
	}
	// The guest sends from byte 4 on: "tw" again, then more.
	out.Write([]byte("two\n"))
	errw.Write([]byte("e2\n"))
	l.EndSession()
	got := collect(t, l, ReadOptions{Stdout: true, Stderr: true, Tail: -1})
	want := []string{"stdout:old run\n", "stdout:one\n", "stderr:e1\n", "stdout:two\n", "stderr:e2\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestResumeWithUnknownStartCountsNothing(t *testing.T) {
	l := New(filepath.Join(t.TempDir(), "c.log"))
	out, _, _ := l.StartSession()
	out.Write([]byte("x\n"))
	l.EndSession()
	_, _, nOut, nErr, err := l.ResumeSession(1 << 40)
	if err != nil || nOut != 0 || nErr != 0 {
		t.Fatalf("counts %d %d err %v", nOut, nErr, err)
	}
	l.EndSession()
}

package containerlog

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func collect(t *testing.T, l *Log, opts ReadOptions) []string {
	t.Helper()
	var out []string
	if err := l.Read(context.Background(), opts, func(e Entry) error {
		out = append(out, e.Stream+":"+string(e.Line))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLinesPartialsAndSessions(t *testing.T) {
	l := New(filepath.Join(t.TempDir(), "c.log"))
	if got := collect(t, l, ReadOptions{Stdout: true, Tail: -1}); len(got) != 0 {
		t.Fatalf("missing file should read empty, got %v", got)
	}
	out, errw, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.StartSession(); err == nil {
		t.Fatal("second session opened")
	}
	out.Write([]byte("a\nb"))
	errw.Write([]byte("x\n"))
	out.Write([]byte("c\n" + strings.Repeat("z", maxLine+1)))
	if err := l.EndSession(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, l, ReadOptions{Stdout: true, Stderr: true, Tail: -1})
	want := []string{"stdout:a\n", "stderr:x\n", "stdout:bc\n", "stdout:" + strings.Repeat("z", maxLine), "stdout:z"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
	if got := collect(t, l, ReadOptions{Stderr: true, Tail: 5}); len(got) != 1 || got[0] != "stderr:x\n" {
		t.Fatalf("stderr only: %q", got)
	}
}

func TestFollowEndsWithSession(t *testing.T) {
	l := New(filepath.Join(t.TempDir(), "c.log"))
	out, _, err := l.StartSession()
	if err != nil {
		t.Fatal(err)
	}
	out.Write([]byte("first\n"))
	lines := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- l.Read(context.Background(), ReadOptions{Stdout: true, Tail: -1, Follow: true}, func(e Entry) error {
			lines <- string(e.Line)
			return nil
		})
	}()
	if got := <-lines; got != "first\n" {
		t.Fatalf("got %q", got)
	}
	out.Write([]byte("second\n"))
	select {
	case got := <-lines:
		if got != "second\n" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("follow missed a line")
	}
	l.EndSession()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("follow did not end with the session")
	}
}

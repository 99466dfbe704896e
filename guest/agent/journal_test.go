//go:build linux

package agent

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// collector records what a follower sends.
type collector struct {
	mu     sync.Mutex
	out    map[proto.FrameType]*strings.Builder
	exited bool
	failAt int // fail the nth send (0: never)
	sends  int
}

func newCollector() *collector {
	return &collector{out: map[proto.FrameType]*strings.Builder{proto.FrameStdout: {}, proto.FrameStderr: {}}}
}

func (c *collector) send(t proto.FrameType, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sends++
	if c.failAt > 0 && c.sends >= c.failAt {
		return errors.New("host gone")
	}
	if t == proto.FrameExit {
		c.exited = true
		return nil
	}
	c.out[t].Write(b)
	return nil
}

func (c *collector) text(t proto.FrameType) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out[t].String()
}

func TestJournalResumesWhereTheHostStopped(t *testing.T) {
	j := newJournal()
	for _, s := range []string{"one\n", "two\n", "three\n"} {
		j.write(proto.FrameStdout, []byte(s))
		j.write(proto.FrameStderr, []byte("e"+s))
	}
	first := newCollector()
	first.failAt = 4 // the host goes after three frames
	f, _ := j.follow(nil)
	if f.run(first.send) {
		t.Fatal("a follower whose host went away reported the exit as sent")
	}
	j.write(proto.FrameStdout, []byte("four\n"))
	j.finish(proto.ExitStatus{Code: 3})

	// The host stored "one\n" and "eone\n" but not "two\n", which it read.
	second := newCollector()
	f, at := j.follow(map[proto.FrameType]int64{proto.FrameStdout: 4, proto.FrameStderr: 5})
	if at[proto.FrameStdout] != 4 || at[proto.FrameStderr] != 5 {
		t.Fatalf("resumed at %v, want stdout 4 stderr 5", at)
	}
	if !f.run(second.send) || !second.exited {
		t.Fatal("the second follower did not send the exit status")
	}
	if got := second.text(proto.FrameStdout); got != "two\nthree\nfour\n" {
		t.Fatalf("stdout after the reattach %q", got)
	}
	if got := second.text(proto.FrameStderr); got != "etwo\nethree\n" {
		t.Fatalf("stderr after the reattach %q", got)
	}
}

func TestJournalResumesMidChunk(t *testing.T) {
	j := newJournal()
	j.write(proto.FrameStdout, []byte("abcdef"))
	j.finish(proto.ExitStatus{})
	c := newCollector()
	f, _ := j.follow(map[proto.FrameType]int64{proto.FrameStdout: 2})
	f.run(c.send)
	if got := c.text(proto.FrameStdout); got != "cdef" {
		t.Fatalf("got %q, want cdef", got)
	}
}

func TestJournalSaysWhenBytesWereDropped(t *testing.T) {
	j := newJournal()
	j.keep = 4
	c := newCollector()
	f, _ := j.follow(nil)
	go f.run(c.send)
	for _, s := range []string{"aaaa", "bbbb", "cccc"} {
		j.write(proto.FrameStdout, []byte(s))
	}
	waitFor(t, func() bool { return c.text(proto.FrameStdout) == "aaaabbbbcccc" })
	f.stop()
	// Only the last 4 sent bytes are kept: a host that has nothing
	// resumes at 8 and is told so.
	_, at := j.follow(nil)
	if at[proto.FrameStdout] != 8 {
		t.Fatalf("resumed at %d, want 8 (the oldest kept byte)", at[proto.FrameStdout])
	}
}

func TestJournalBlocksTheWriterWhileNobodyReads(t *testing.T) {
	j := newJournal()
	j.maxUnsent = 8
	wrote := make(chan struct{})
	go func() {
		for i := 0; i < 4; i++ {
			j.write(proto.FrameStdout, []byte("1234"))
		}
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("16 bytes went into a journal that holds 8 unsent ones with no host")
	case <-time.After(100 * time.Millisecond):
	}
	c := newCollector()
	f, _ := j.follow(nil)
	go f.run(c.send)
	select {
	case <-wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer stayed blocked with a host reading")
	}
	waitFor(t, func() bool { return c.text(proto.FrameStdout) == strings.Repeat("1234", 4) })
}

func TestJournalNewFollowerStopsTheOldOne(t *testing.T) {
	j := newJournal()
	old, _ := j.follow(nil)
	done := make(chan bool)
	go func() { done <- old.run(newCollector().send) }()
	j.follow(nil)
	select {
	case sent := <-done:
		if sent {
			t.Fatal("the replaced follower reported the exit as sent")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the replaced follower kept running")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

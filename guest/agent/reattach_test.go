//go:build linux

package agent

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// connect opens one more host connection to a (as a restarted daemon
// does on the same port).
func connect(t *testing.T, a *Agent) *proto.Client {
	t.Helper()
	hostEnd, guestEnd := net.Pipe()
	go a.Serve(guestEnd)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := proto.Dial(ctx, hostEnd)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestMainProcessOutlivesItsHost: the host that started the main process
// goes away mid-output; the process keeps running, and a second host that
// reattaches with what the first one stored gets exactly the rest, the
// exit status, and a power-off only after it acknowledged that status.
func TestMainProcessOutlivesItsHost(t *testing.T) {
	poweredOff := make(chan struct{})
	var recorded []byte
	a := New(testReaper, Hooks{
		PowerOff:   func() { close(poweredOff) },
		RecordExit: func(b []byte) { recorded = b },
	}, "test-kernel", WithoutCredentials())
	first := connect(t, a)
	const lines = 200
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo out$i; echo err$i >&2; i=$((i+1)); sleep 0.005; done; exit 5`, lines)
	var out1, err1 safeBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := first.StartContainer(ctx, proto.ContainerSpec{Process: proto.ProcessSpec{Args: []string{"sh", "-c", script}}}, proto.ProcessIO{Stdout: &out1, Stderr: &err1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Count(out1.String(), "\n") >= 20 })
	first.Close()
	stored := proto.OutputOffsets{Stdout: int64(len(out1.String())), Stderr: int64(len(err1.String()))}
	time.Sleep(200 * time.Millisecond) // output piles up with no host

	second := connect(t, a)
	var out2, err2 safeBuffer
	p, at, err := second.Reattach(ctx, stored, proto.ProcessIO{Stdout: &out2, Stderr: &err2}, false)
	if err != nil {
		t.Fatal(err)
	}
	if at != stored {
		t.Fatalf("resumed at %+v, want %+v", at, stored)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 5 {
		t.Fatalf("status %+v, %v; want code 5", st, err)
	}
	var wantOut, wantErr strings.Builder
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&wantOut, "out%d\n", i)
		fmt.Fprintf(&wantErr, "err%d\n", i)
	}
	if got := out1.String() + out2.String(); got != wantOut.String() {
		t.Fatalf("stdout across the two hosts is not the process's output exactly once:\n%q", got)
	}
	if got := err1.String() + err2.String(); got != wantErr.String() {
		t.Fatalf("stderr across the two hosts is not the process's output exactly once:\n%q", got)
	}
	select {
	case <-poweredOff:
	case <-time.After(5 * time.Second):
		t.Fatal("no power-off after the second host took the exit status")
	}
	if !strings.Contains(string(recorded), `"code":5`) {
		t.Fatalf("recorded exit status %q", recorded)
	}
}

// TestExitWaitsForAHost: a main process that ends while no host is
// connected keeps its status until one reattaches; the VM does not power
// off before.
func TestExitWaitsForAHost(t *testing.T) {
	poweredOff := make(chan struct{})
	a := New(testReaper, Hooks{PowerOff: func() { close(poweredOff) }}, "test-kernel", WithoutCredentials())
	first := connect(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := first.StartContainer(ctx, proto.ContainerSpec{Process: proto.ProcessSpec{Args: []string{"sh", "-c", "sleep 0.3; echo bye; exit 9"}}}, proto.ProcessIO{}); err != nil {
		t.Fatal(err)
	}
	first.Close()
	select {
	case <-poweredOff:
		t.Fatal("powered off with nobody told the exit status")
	case <-time.After(time.Second):
	}
	second := connect(t, a)
	var out safeBuffer
	p, _, err := second.Reattach(ctx, proto.OutputOffsets{}, proto.ProcessIO{Stdout: &out}, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 9 || out.String() != "bye\n" {
		t.Fatalf("status %+v err %v out %q", st, err, out.String())
	}
	select {
	case <-poweredOff:
	case <-time.After(5 * time.Second):
		t.Fatal("no power-off after the acknowledgement")
	}
}

func TestReattachWithoutMainProcessFails(t *testing.T) {
	a := New(testReaper, Hooks{}, "test-kernel", WithoutCredentials())
	c := connect(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := c.Reattach(ctx, proto.OutputOffsets{}, proto.ProcessIO{}, false); err == nil || !strings.Contains(err.Error(), "no main process") {
		t.Fatalf("reattach without a main process: %v", err)
	}
}

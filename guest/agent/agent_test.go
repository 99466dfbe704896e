//go:build linux

package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

var testReaper = NewReaper()

// safeBuffer is a bytes.Buffer safe for concurrent use.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func dialAgent(t *testing.T, hooks Hooks) *proto.Client {
	t.Helper()
	hostEnd, guestEnd := net.Pipe()
	a := New(testReaper, hooks, "test-kernel", WithoutCredentials())
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

func run(t *testing.T, c *proto.Client, spec proto.ProcessSpec, stdin string) (proto.ExitStatus, string, string) {
	t.Helper()
	var out, errOut safeBuffer
	pio := proto.ProcessIO{Stdout: &out, Stderr: &errOut}
	if spec.OpenStdin {
		pio.Stdin = strings.NewReader(stdin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Exec(ctx, spec, pio)
	if err != nil {
		t.Fatalf("exec %v: %v", spec.Args, err)
	}
	st, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("wait %v: %v", spec.Args, err)
	}
	return st, out.String(), errOut.String()
}

func TestHandshakeReportsGuest(t *testing.T) {
	c := dialAgent(t, Hooks{})
	if c.Info.Version != proto.Version || c.Info.KernelRelease != "test-kernel" {
		t.Fatalf("hello = %+v", c.Info)
	}
}

func TestHandshakeTimesOutOnSilentPeer(t *testing.T) {
	hostEnd, guestEnd := net.Pipe()
	defer guestEnd.Close()
	go func() { // read and never answer
		buf := make([]byte, 1024)
		for {
			if _, err := guestEnd.Read(buf); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := proto.Dial(ctx, hostEnd)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("want a timeout error, got %v", err)
	}
}

func TestExecOutputAndExitCodes(t *testing.T) {
	c := dialAgent(t, Hooks{})
	cases := []struct {
		args       []string
		code       int
		out, errOu string
	}{
		{[]string{"echo", "hi"}, 0, "hi\n", ""},
		{[]string{"sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\n", "err\n"},
		{[]string{"sh", "-c", "kill -KILL $$"}, 137, "", ""},
	}
	for _, tc := range cases {
		st, out, errOut := run(t, c, proto.ProcessSpec{Args: tc.args, Env: []string{"PATH=/usr/bin:/bin"}}, "")
		if st.Code != tc.code || out != tc.out || errOut != tc.errOu {
			t.Errorf("%v: code %d out %q err %q; want %d %q %q", tc.args, st.Code, out, errOut, tc.code, tc.out, tc.errOu)
		}
	}
}

func TestExecEnvWorkdirAndMissingProgram(t *testing.T) {
	c := dialAgent(t, Hooks{})
	dir := filepath.Join(t.TempDir(), "new", "dir")
	st, out, _ := run(t, c, proto.ProcessSpec{Args: []string{"sh", "-c", `echo "$FOO $PWD $HOME"`}, Env: []string{"FOO=bar", "PATH=/bin"}, WorkingDir: dir}, "")
	if st.Code != 0 || out != "bar "+dir+" /root\n" {
		t.Fatalf("got %d %q", st.Code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Exec(ctx, proto.ProcessSpec{Args: []string{"no-such-program"}}, proto.ProcessIO{})
	if err == nil || !strings.Contains(err.Error(), `executable file not found in $PATH`) {
		t.Fatalf("want not found error, got %v", err)
	}
}

func TestExecStdinHalfClose(t *testing.T) {
	c := dialAgent(t, Hooks{})
	st, out, _ := run(t, c, proto.ProcessSpec{Args: []string{"cat"}, OpenStdin: true}, "hello stdin\n")
	if st.Code != 0 || out != "hello stdin\n" {
		t.Fatalf("got %d %q", st.Code, out)
	}
}

func TestExecSignal(t *testing.T) {
	c := dialAgent(t, Hooks{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Exec(ctx, proto.ProcessSpec{Args: []string{"sleep", "30"}}, proto.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 128+int(syscall.SIGTERM) || st.Signal != int(syscall.SIGTERM) {
		t.Fatalf("status %+v err %v", st, err)
	}
}

func TestExecTTY(t *testing.T) {
	c := dialAgent(t, Hooks{})
	st, out, errOut := run(t, c, proto.ProcessSpec{Args: []string{"sh", "-c", "stty size; echo err >&2; test -t 0 && echo tty"}, Tty: true, Height: 24, Width: 80}, "")
	if st.Code != 0 || errOut != "" {
		t.Fatalf("code %d err %q", st.Code, errOut)
	}
	if !strings.Contains(out, "24 80") || !strings.Contains(out, "err\r\n") || !strings.Contains(out, "tty") {
		t.Fatalf("tty output %q", out)
	}
}

func TestConcurrentExecs(t *testing.T) {
	c := dialAgent(t, Hooks{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, out, _ := run(t, c, proto.ProcessSpec{Args: []string{"sh", "-c", "seq 1 2000 | tail -n 1"}}, "")
			if st.Code != 0 || out != "2000\n" {
				t.Errorf("got %d %q", st.Code, out)
			}
		}()
	}
	wg.Wait()
}

func TestStartRunsSetupThenMainAndPowersOff(t *testing.T) {
	var setupRan, exited bool
	poweredOff := make(chan struct{})
	c := dialAgent(t, Hooks{
		SetupContainer: func(spec *proto.ContainerSpec) error { setupRan = spec.RootDevice == "/dev/vda"; return nil },
		MainExited:     func() { exited = true },
		PowerOff:       func() { close(poweredOff) },
	})
	var out safeBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.StartContainer(ctx, proto.ContainerSpec{RootDevice: "/dev/vda", Process: proto.ProcessSpec{Args: []string{"sh", "-c", "echo main; exit 7"}}}, proto.ProcessIO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 7 || out.String() != "main\n" || !setupRan || !exited {
		t.Fatalf("status %+v err %v out %q setup %v exited %v", st, err, out.String(), setupRan, exited)
	}
	c.Close()
	select {
	case <-poweredOff:
	case <-time.After(5 * time.Second):
		t.Fatal("no power-off after the main process exited")
	}
	if _, err := c.StartContainer(ctx, proto.ContainerSpec{}, proto.ProcessIO{}); err == nil {
		t.Fatal("start on a closed client succeeded")
	}
}

func TestLookupUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nextra:x:1001:app\n"), 0o644)
	cases := []struct {
		spec string
		want Identity
		err  string
	}{
		{"", Identity{UID: 0, GID: 0, Home: "/root"}, ""},
		{"app", Identity{UID: 1000, GID: 1000, Groups: []uint32{1001}, Home: "/home/app"}, ""},
		{"1000", Identity{UID: 1000, GID: 1000, Groups: []uint32{1001}, Home: "/home/app"}, ""},
		{"65534", Identity{UID: 65534, GID: 65534, Home: "/nonexistent"}, ""},
		{"4242:7", Identity{UID: 4242, GID: 7, Home: "/"}, ""},
		{"app:extra", Identity{UID: 1000, GID: 1001, Home: "/home/app"}, ""},
		{"ghost", Identity{}, "unable to find user ghost: no matching entries in passwd file"},
		{"app:ghost", Identity{}, "unable to find group ghost"},
	}
	for _, tc := range cases {
		got, err := LookupUser(root, tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || len(got.Groups) != len(tc.want.Groups) || (len(got.Groups) > 0 && got.Groups[0] != tc.want.Groups[0]) {
			t.Errorf("%q: got %+v %v, want %+v", tc.spec, got, err, tc.want)
		}
	}
}

// --group-add: names from the container's /etc/group and plain gids join
// the user's own supplementary groups once each; an unknown name is an
// unknown-user error.
func TestAddGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("app:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("app:x:1000:\nextra:x:1001:app\ndocker:x:999:\n"), 0o644)
	id, err := LookupUser(root, "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := id.AddGroups(root, []string{"docker", "4242", "extra"}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(id.Groups) != "[1001 999 4242]" {
		t.Fatalf("groups %v, want [1001 999 4242]", id.Groups)
	}
	var unknown unknownUserError
	if err := id.AddGroups(root, []string{"ghost"}); !errors.As(err, &unknown) || !strings.Contains(err.Error(), "find group ghost") {
		t.Fatalf("an unknown group: %v", err)
	}
}

// A process that never reads its stdin must not hold up a signal, however
// much the host has to write (stdin has its own stream).
func TestSignalNotBlockedByUnreadStdin(t *testing.T) {
	c := dialAgent(t, Hooks{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := strings.NewReader(strings.Repeat("x", 4<<20))
	p, err := c.Exec(ctx, proto.ProcessSpec{Args: []string{"sleep", "30"}, OpenStdin: true}, proto.ProcessIO{Stdin: big})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let stdin fill every buffer
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx)
	if err != nil || st.Code != 137 || st.Signal != int(syscall.SIGKILL) {
		t.Fatalf("status %+v err %v", st, err)
	}
}

// docker run -i without an attached client keeps stdin open; CloseStdin
// closes it and cat ends.
func TestCloseStdinWithoutReader(t *testing.T) {
	c := dialAgent(t, Hooks{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.Exec(ctx, proto.ProcessSpec{Args: []string{"cat"}, OpenStdin: true}, proto.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
		t.Fatal("cat ended before its stdin was closed")
	case <-time.After(200 * time.Millisecond):
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Wait(ctx); err != nil || st.Code != 0 {
		t.Fatalf("status %+v err %v", st, err)
	}
}

package netd

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{
		Subnet:    netip.MustParsePrefix("172.30.0.0/16"),
		Gateway:   netip.MustParseAddr("172.30.0.1"),
		HostAlias: netip.MustParseAddr("172.30.0.1"),
		Upstream:  "127.0.0.1:1", // nothing answers there
	}
}

// startHelper starts a helper (this test binary, see TestMain) in dir and
// stops it when the test ends.
func startHelper(t *testing.T, dir string, cfg Config) *Client {
	t.Helper()
	c, err := Start(context.Background(), dir, cfg, os.Args[0], "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := Connect(context.Background(), dir); err == nil {
			c.Stop(context.Background())
		}
	})
	return c
}

// processGone waits until pid no longer exists.
func processGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A published port is a listener in the helper; it serves while no
// client is connected, a new client lists it, a clash keeps its errno,
// release closes it, and stop ends the process and removes its files.
func TestHelperHoldsPublicationsAcrossClients(t *testing.T) {
	dir := t.TempDir()
	c := startHelper(t, dir, testConfig())
	if c.Pid() == os.Getpid() || c.Config() != testConfig() {
		t.Fatalf("helper pid %d, config %+v", c.Pid(), c.Config())
	}
	if b, err := os.ReadFile(filepath.Join(dir, pidFile)); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(c.Pid()) {
		t.Fatalf("pid file %q, %v", b, err)
	}
	target := netip.MustParseAddrPort("172.30.0.2:80")
	host, err := c.Publish("c1", "tcp", "127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	if host.Port() == 0 || host.Addr().String() != "127.0.0.1" {
		t.Fatalf("bound %v", host)
	}
	if _, err := c.Publish("c2", "udp", "127.0.0.1:0", netip.MustParseAddrPort("172.30.0.3:53")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Publish("c2", "tcp", host.String(), target)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("a port in use: %v, want EADDRINUSE", err)
	}
	if _, err := c.Publish("c2", "sctp", "127.0.0.1:0", target); err == nil {
		t.Fatal("sctp accepted")
	}
	c.Close()

	// A new client (a restarted pierd) finds the helper and its ports.
	again, err := Connect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.Pid() != c.Pid() {
		t.Fatalf("another helper: %d, want %d", again.Pid(), c.Pid())
	}
	pubs, err := again.Publications("c1")
	if err != nil || len(pubs) != 1 || pubs[0] != (Publication{Owner: "c1", Proto: "tcp", Host: host, Target: target}) {
		t.Fatalf("publications of c1: %+v, %v", pubs, err)
	}
	if all, err := again.Publications(""); err != nil || len(all) != 2 || all[1].Owner != "c2" || all[1].Proto != "udp" {
		t.Fatalf("every publication: %+v, %v", all, err)
	}
	// The helper's listener answers (the connection into the network then
	// finds nobody at the target and is closed).
	conn, err := net.DialTimeout("tcp", host.String(), 5*time.Second)
	if err != nil {
		t.Fatalf("published port does not listen: %v", err)
	}
	conn.Close()

	if err := again.Release("c1"); err != nil {
		t.Fatal(err)
	}
	if pubs, err := again.Publications("c1"); err != nil || len(pubs) != 0 {
		t.Fatalf("after release: %+v, %v", pubs, err)
	}
	l, err := net.Listen("tcp", host.String())
	if err != nil {
		t.Fatalf("the released port is still bound: %v", err)
	}
	l.Close()

	if err := again.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	processGone(t, c.Pid())
	for _, f := range []string{controlSock, pidFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if _, err := Connect(context.Background(), dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("connect after stop: %v", err)
	}
	if err := again.Ping(); err == nil {
		t.Fatal("a stopped helper answers")
	}
}

// Start reuses a helper serving the same network and replaces one serving
// another; the directory's path is longer than a socket path may be.
func TestStartReusesOrReplaces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("n", 110))
	a := startHelper(t, dir, testConfig())
	same, err := Start(context.Background(), dir, testConfig(), os.Args[0], "--dir", dir)
	if err != nil || same.Pid() != a.Pid() {
		t.Fatalf("same config: pid %d (want %d), %v", same.Pid(), a.Pid(), err)
	}
	other := testConfig()
	other.Internal = true
	other.HostAlias = netip.Addr{}
	b, err := Start(context.Background(), dir, other, os.Args[0], "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Pid() == a.Pid() || b.Config() != other {
		t.Fatalf("not replaced: pid %d (old %d), config %+v", b.Pid(), a.Pid(), b.Config())
	}
	processGone(t, a.Pid())
	if got, err := readConfig(dir); err != nil || got != other {
		t.Fatalf("config.json: %+v, %v", got, err)
	}
}

// Connect to a directory left by a dead helper removes its socket and pid
// file and says that none runs.
func TestConnectCleansStaleFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, controlSock))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // a socket file nobody listens on
	os.WriteFile(filepath.Join(dir, pidFile), []byte("999999\n"), 0o600)
	if _, err := Connect(context.Background(), dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("connect: %v, want ErrNotRunning", err)
	}
	for _, f := range []string{controlSock, pidFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("stale %s kept: %v", f, err)
		}
	}
	if _, err := Connect(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("connect to a missing directory: %v", err)
	}
}

// A helper that fails at start (a broken config) is reported with its
// log, and a bad config is refused before anything starts.
func TestStartReportsAHelperThatFails(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.HostAlias = netip.MustParseAddr("10.0.0.1") // outside the subnet: vnet refuses it
	_, err := Start(context.Background(), dir, cfg, os.Args[0], "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "host alias 10.0.0.1 is not in 172.30.0.0/16") {
		t.Fatalf("got %v", err)
	}
	cfg = testConfig()
	cfg.Gateway = netip.MustParseAddr("10.0.0.1")
	if _, err := Start(context.Background(), dir, cfg, os.Args[0], "--dir", dir); err == nil || !strings.Contains(err.Error(), "is not in subnet") {
		t.Fatalf("gateway outside the subnet: %v", err)
	}
	// A second Serve in a directory whose helper runs is refused.
	c := startHelper(t, dir, testConfig())
	if err := Serve(context.Background(), dir); !errors.Is(err, errLocked) {
		t.Fatalf("second helper: %v", err)
	}
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
}

// Malformed control lines get an error and the helper keeps serving; a
// line over the bound ends only its connection.
func TestMalformedRequestsDoNotKillTheHelper(t *testing.T) {
	dir := t.TempDir()
	c := startHelper(t, dir, testConfig())
	conn, err := net.Dial("unix", c.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for line, want := range map[string]string{
		"not json":                             "malformed request",
		`{"op":"nope"}`:                        `unknown operation`,
		`{"op":"release"}`:                     "release needs an owner",
		`{"op":"publish","proto":"tcp"}`:       "publish needs an owner",
		`{"op":"publish","owner":"x"}`:         "publish needs a target address",
		`{"op":"publish","target":"1.2.3.4"}`:  "malformed request",
		`{"op":"blocked","prefixes":["x/99"]}`: "malformed request",
		`{"op":"dns","names":{"local":[]}}`:    "malformed request",
		`[]`:                                   "malformed request",
	} {
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := r.ReadString('\n')
		if err != nil || !strings.Contains(resp, want) {
			t.Errorf("%s: answered %q (%v), want %q", line, resp, err, want)
		}
	}
	// The same connection still works.
	conn.Write([]byte(`{"op":"ping"}` + "\n"))
	if resp, err := r.ReadString('\n'); err != nil || !strings.Contains(resp, Protocol) {
		t.Fatalf("ping after errors: %q %v", resp, err)
	}
	// A line over the bound: an error, then the connection ends.
	go conn.Write(append([]byte(strings.Repeat("x", maxLine+10)), '\n'))
	resp, err := r.ReadString('\n')
	if err != nil || !strings.Contains(resp, "line over") {
		t.Fatalf("long line: %q %v", resp, err)
	}
	if err := c.Ping(); err != nil {
		t.Fatalf("helper after malformed requests: %v", err)
	}
}

// A helper that holds its directory but does not answer (hung, or an
// older protocol) is ended by its pid file and replaced.
func TestStartReplacesAHelperThatDoesNotAnswer(t *testing.T) {
	dir := t.TempDir()
	hung := exec.Command(os.Args[0], "--hang", dir)
	if err := hung.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- hung.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !helperAlive(dir) || !fileExists(filepath.Join(dir, pidFile)) {
		if time.Now().After(deadline) {
			t.Fatal("the hung helper did not take its lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := Connect(context.Background(), dir); err == nil || errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("connect to a hung helper: %v", err)
	}
	c := startHelper(t, dir, testConfig())
	if c.Pid() == hung.Process.Pid {
		t.Fatal("the hung helper was kept")
	}
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(err.Error(), "signal: terminated") {
			t.Fatalf("the hung helper ended with %v, want SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the hung helper still runs")
	}
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Package e2e drives the real docker CLI (with the Compose v2 plugin that
// make compose builds) and testcontainers-go against a real pierd that
// boots real QEMU VMs, with images served by an in-process registry.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

// daemon is one running pierd.
type daemon struct {
	cmd     *exec.Cmd
	sock    string
	dataDir string
	log     *bytes.Buffer
	env     []string
}

var (
	pierdBin string
	guestDir string
	repoRoot string
	shared   *daemon
	reg      *testregistry.Registry
)

func findRepoRoot() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
}

// prerequisites says why the suite cannot run here, or "".
func prerequisites() string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "the docker CLI is not installed"
	}
	if _, err := os.Stat(filepath.Join(guestDir, "vmlinux")); err != nil {
		return "guest assets missing: run make build"
	}
	if _, err := os.Stat(filepath.Join(guestDir, "pier-init")); err != nil {
		return "guest init missing: run make build"
	}
	return ""
}

func TestMain(m *testing.M) {
	repoRoot = findRepoRoot()
	guestDir = filepath.Join(repoRoot, "bin", "guest", runtime.GOARCH)
	if why := prerequisites(); why != "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: cannot run:", why)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e: skipped:", why)
		os.Exit(0)
	}
	tmp, err := os.MkdirTemp("", "pier-e2e-")
	if err != nil {
		panic(err)
	}
	pierdBin = filepath.Join(tmp, "pierd")
	build := exec.Command("go", "build", "-o", pierdBin, "./cmd/pierd")
	build.Dir, build.Stdout, build.Stderr = repoRoot, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building pierd:", err)
		os.Exit(1)
	}
	code := m.Run()
	if shared != nil {
		if err := shared.shutdown(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: shared daemon:", err)
			code = max(code, 1)
		}
	}
	if reg != nil {
		reg.Close()
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// startDaemon starts pierd on a temp socket and data root.
func startDaemon(t *testing.T, extra ...string) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "pier-e2e-d-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{sock: filepath.Join(dir, "docker.sock"), dataDir: filepath.Join(dir, "data"), log: &bytes.Buffer{}}
	args := append([]string{"-H", "unix://" + d.sock, "--data-root", d.dataDir, "--guest-dir", guestDir, "--accel", "tcg"}, extra...)
	if !slices.ContainsFunc(extra, func(a string) bool { return strings.HasPrefix(a, "--live-restore") }) {
		// A stopped daemon stops its containers, so that every test ends
		// with no VM left (the live-restore tests ask for it).
		args = append(args, "--live-restore=false")
	}
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+d.sock, "DOCKER_CONFIG="+filepath.Join(dir, "docker-config"))
	writeDockerConfig(t, filepath.Join(dir, "docker-config"))
	d.launch(t, args)
	return d
}

// composePlugins is where `make compose` builds the Compose v2 CLI plugin.
func composePlugins() string { return filepath.Join(repoRoot, "bin", "cli-plugins") }

// writeDockerConfig gives the CLI a config directory of its own, whose
// config.json adds composePlugins to the CLI's plugin search path (so
// `docker compose` is the Compose v2 that `make compose` built).
func writeDockerConfig(t *testing.T, dir string) {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{"cliPluginsExtraDirs": []string{composePlugins()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
}

// launch starts pierd with args and waits for its socket.
func (d *daemon) launch(t *testing.T, args []string) {
	t.Helper()
	d.cmd = exec.Command(pierdBin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	// PIER_E2E_LOG=FILE also appends every daemon's log to FILE (debugging).
	if path := os.Getenv("PIER_E2E_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		// Left open: the shared daemon outlives the test that starts it.
		w := io.MultiWriter(d.log, f)
		d.cmd.Stdout, d.cmd.Stderr = w, w
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The socket listens before the engine is ready (adoption, leftover
	// VMs): wait until the API answers.
	ping := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
		}}}
	defer ping.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := ping.Get("http://pierd/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.cmd.Process.Kill()
	t.Fatalf("pierd did not come up:\n%s", d.log)
}

// restart stops pierd as stop does, keeping its data root, and starts it
// again with the same arguments.
func (d *daemon) restart(t *testing.T) {
	t.Helper()
	if err := d.halt(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(d.log, "e2e: restarting pierd")
	d.launch(t, d.cmd.Args[1:])
}

// stop sends SIGINT and checks that pierd exited cleanly and that no QEMU
// or virtiofsd process of its data root is left behind.
func (d *daemon) stop(t *testing.T) {
	if err := d.shutdown(); err != nil {
		t.Error(err)
	}
}

// shutdown is stop for callers without a *testing.T (TestMain).
func (d *daemon) shutdown() error {
	defer os.RemoveAll(filepath.Dir(d.sock))
	return d.halt()
}

// halt sends SIGINT, waits for pierd to exit cleanly and checks that no
// QEMU, virtiofsd or network helper process of its data root is left
// behind.
func (d *daemon) halt() error {
	d.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("pierd exited with %v:\n%s", err, d.log)
		}
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-done
		return fmt.Errorf("pierd did not stop within 30s:\n%s", d.log)
	}
	// Helpers are reaped by pierd before it exits; give the kernel a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := append(vmProcesses(d.dataDir), netHelpers(d.dataDir)...)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, pid := range left {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
			return fmt.Errorf("pierd left VM or network helper processes behind: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vmProcesses lists the qemu-system and virtiofsd processes whose command
// line mentions dataDir.
func vmProcesses(dataDir string) []int {
	return processes(dataDir, func(args []string) bool {
		cmdline := strings.Join(args, " ")
		return strings.Contains(cmdline, "qemu-system") || strings.Contains(cmdline, "virtiofsd")
	})
}

// netHelpers lists the network helper processes (pier-net-helper, or
// pierd net-helper where that binary is missing) whose command line
// mentions dataDir.
func netHelpers(dataDir string) []int {
	return processes(dataDir, func(args []string) bool {
		return filepath.Base(args[0]) == "pier-net-helper" || slices.Contains(args, "net-helper")
	})
}

// processes lists the processes whose command line mentions dataDir and
// whose arguments match.
func processes(dataDir string, match func(args []string) bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(raw, []byte(dataDir)) {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sharedDaemon is one pierd (and registry) for the tests that can share it.
func sharedDaemon(t *testing.T) *daemon {
	t.Helper()
	if shared == nil {
		set := testimages.Require(t)
		r, err := testregistry.Serve("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Push(set); err != nil {
			t.Fatal(err)
		}
		reg = r
		shared = startDaemon(t)
	}
	return shared
}

// docker runs the docker CLI against d.
func (d *daemon) docker(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = d.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// ok runs docker and fails the test on a non-zero exit.
func (d *daemon) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := d.docker(t, "", args...)
	if code != 0 {
		t.Fatalf("docker %s: exit %d\nstdout: %s\nstderr: %s\npierd log:\n%s", strings.Join(args, " "), code, out, errOut, tail(d.log.String(), 20))
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// rawGET sends a GET over the daemon's socket.
func (d *daemon) rawGET(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return d.raw(t, http.MethodGet, path, "", nil)
}

// raw sends a request over the daemon's socket and reads the whole answer.
func (d *daemon) raw(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", d.sock)
	}}}
	req, err := http.NewRequest(method, "http://pier"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

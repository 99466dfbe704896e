package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"github.com/pier-vm/pier/guest/builder/dialstdio"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/buildkit/client"
	"github.com/pier-vm/pier/guest/proto"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sys/unix"
)

// TestServeBuildsADockerfile runs the daemon on this host (as root, with
// runc; a child process per daemon, as in the builder VM) with a fake
// pierd on its stdin and stdout, and builds a Dockerfile through
// dial-stdio with BuildKit's client and the moby exporter: FROM is
// resolved from the fake, the image is exported to it. pivot_root works
// here, so --no-pivot is used but not proven necessary.
func TestServeBuildsADockerfile(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the builder daemon's test runs as root")
		}
		t.Skip("the builder daemon's test runs as root (runc, mounts)")
	}
	if _, err := findRunc(""); err != nil {
		t.Fatalf("%v: `make deps` installs runc", err)
	}
	set := testimages.Require(t)
	base, err := set.Image("busybox-"+runtime.GOARCH, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range []string{"native", "auto"} {
		t.Run(sn, func(t *testing.T) { buildWith(t, sn, base) })
	}
}

type export struct {
	names []string
	files map[string]string // path in a layer -> content
	err   error
}

func buildWith(t *testing.T, snapshotter string, base v1.Image) {
	root := t.TempDir()
	socket := filepath.Join(root, "buildkitd.sock")
	exports := make(chan export, 4)
	f, in, out := newFakeHostPipes(t, func(req proto.BuilderRequest) proto.BuilderReply {
		switch req.Op {
		case proto.BuilderResolve:
			if req.Ref != "docker.io/library/busybox:latest" {
				return proto.BuilderReply{Error: "pierd has no " + req.Ref}
			}
			if err := tarball.WriteToFile(req.Path, must(name.NewTag("busybox:latest")), base); err != nil {
				return proto.BuilderReply{Error: err.Error()}
			}
			return proto.BuilderReply{}
		case proto.BuilderExport:
			e := export{names: req.Names}
			e.files, e.err = layerFiles(req.Path)
			exports <- e
			return proto.BuilderReply{Image: "sha256:0123"}
		}
		return proto.BuilderReply{Error: "unexpected " + req.Op}
	})

	ctx := context.Background()
	// runc through a wrapper that logs its arguments: RUN steps must run
	// with --no-pivot.
	realRunc, err := findRunc("")
	if err != nil {
		t.Fatal(err)
	}
	runcLog := filepath.Join(t.TempDir(), "runc-args")
	wrapper := filepath.Join(t.TempDir(), "runc")
	write(t, wrapper, "#!/bin/sh\necho \"$*\" >> "+runcLog+"\nexec "+realRunc+" \"$@\"\n")
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	served := startDaemon(t, root, socket, snapshotter, wrapper, in, out)
	deadline := time.Now().Add(60 * time.Second)
	for len(f.requests(proto.BuilderReady)) == 0 {
		select {
		case err := <-served:
			t.Fatalf("the daemon ended before ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready line within 60 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	c, err := client.New(ctx, "", client.WithContextDialer(func(context.Context, string) (net.Conn, error) {
		return dialStdioConn(t, socket)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, containerdStore := ws[0].Labels["org.mobyproject.buildkit.worker.snapshotter"]; len(ws) != 1 || containerdStore || ws[0].Labels["org.mobyproject.buildkit.worker.executor"] != "oci" {
		t.Fatalf("workers: %+v", ws)
	}
	t.Logf("worker labels: %v", ws[0].Labels)

	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello.txt"), "from the context\n")
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	solve := func(dockerfile string, attrs map[string]string) (string, error) {
		write(t, filepath.Join(dir, "Dockerfile"), dockerfile)
		status := make(chan *client.SolveStatus)
		var logs strings.Builder
		done := make(chan struct{})
		go func() {
			defer close(done)
			for s := range status {
				for _, v := range s.Vertexes {
					if v.Error != "" {
						fmt.Fprintf(&logs, "%s: %s\n", v.Name, v.Error)
					}
				}
				for _, l := range s.Logs {
					logs.Write(l.Data)
				}
			}
		}()
		_, err := c.Solve(ctx, nil, client.SolveOpt{
			Frontend:    "dockerfile.v0",
			LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
			Exports:     []client.ExportEntry{{Type: MobyExporter, Attrs: attrs}},
		}, status)
		<-done
		return logs.String(), err
	}
	if logs, err := solve("FROM busybox\nRUN echo hi > /f\nCOPY hello.txt /hello.txt\n", map[string]string{"name": "docker.io/library/built:latest"}); err != nil {
		t.Fatalf("solve: %v\n%s", err, logs)
	}
	var e export
	select {
	case e = <-exports:
	default:
		t.Fatal("the build ended without an export to pierd")
	}
	if e.err != nil {
		t.Fatalf("the exported tarball: %v", e.err)
	}
	if len(e.names) != 1 || e.names[0] != "docker.io/library/built:latest" {
		t.Fatalf("exported names %v", e.names)
	}
	if e.files["f"] != "hi\n" || e.files["hello.txt"] != "from the context\n" {
		t.Fatalf("the exported image's layers lack /f or /hello.txt: f=%q hello.txt=%q", e.files["f"], e.files["hello.txt"])
	}
	if _, ok := e.files["bin/busybox"]; !ok {
		t.Fatal("the exported image lacks the base image's /bin/busybox")
	}
	args, err := os.ReadFile(runcLog)
	if err != nil || !strings.Contains(string(args), " run ") || !strings.Contains(string(args), "--no-pivot") {
		t.Fatalf("runc was not run with --no-pivot: %q, %v", args, err)
	}
	rs := f.requests(proto.BuilderResolve)
	if len(rs) != 1 || rs[0].Platform != platforms.Format(platforms.Normalize(platforms.DefaultSpec())) {
		t.Errorf("resolve requests %+v: want busybox once, with this host's platform", rs)
	}

	// Without a name: an export without names.
	if logs, err := solve("FROM busybox\nRUN echo again > /g\n", nil); err != nil {
		t.Fatalf("solve without a name: %v\n%s", err, logs)
	}
	select {
	case e = <-exports:
	default:
		t.Fatal("the unnamed build ended without an export to pierd")
	}
	if e.err != nil || len(e.names) != 0 || e.files["g"] != "again\n" {
		t.Fatalf("unnamed export: names %v, /g %q, %v", e.names, e.files["g"], e.err)
	}

	// An image pierd does not have fails the build.
	_, err = solve("FROM nope:1\n", map[string]string{"name": "docker.io/library/x:latest"})
	if err == nil || !strings.Contains(err.Error(), "docker.io/library/nope:1") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("FROM an image pierd lacks: want a not-found error, got %v", err)
	}
	t.Logf("FROM an image pierd lacks: %v", err)
	if len(exports) != 0 {
		t.Fatal("a failed build exported")
	}
}

const childEnv = "PIER_BUILDKITD_TEST_CHILD"

// TestMain is also the daemon's child process of the tests: with childEnv
// set (root, socket, snapshotter, runc) it serves as `pier-buildkitd serve` does.
func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(serveChild(strings.Split(v, "|")))
	}
	os.Exit(m.Run())
}

func serveChild(args []string) int {
	out, err := ProtocolStdout()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM)
	defer stop()
	err = Serve(ctx, Config{Root: args[0], Socket: args[1], Snapshotter: args[2], Runc: args[3], NoPivot: true, In: os.Stdin, Out: out})
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

// startDaemon starts the daemon as a child process with stdin in and
// stdout out; it is stopped (SIGTERM) when the test ends, and must exit 0.
func startDaemon(t *testing.T, root, socket, snapshotter, runc string, in, out *os.File) <-chan error {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+root+"|"+socket+"|"+snapshotter+"|"+runc)
	cmd.Stdin, cmd.Stdout = in, out
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	in.Close()
	out.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the daemon did not exit 0 on SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Signal(unix.SIGQUIT)
			time.Sleep(time.Second)
			_ = cmd.Process.Kill()
			t.Error("the daemon did not exit within 30 s of SIGTERM")
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("the daemon's stderr:\n%s", b)
		}
	})
	return done
}

// layerFiles loads a docker-save tarball and returns its layers' regular
// files (the upper layer's content wins) with their contents, up to 1 KiB.
func layerFiles(path string) (map[string]string, error) {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return nil, err
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	files := map[string]string{}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, err
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			b, _ := io.ReadAll(io.LimitReader(tr, 1024))
			files[strings.TrimPrefix(h.Name, "./")] = string(b)
		}
		rc.Close()
	}
	return files, nil
}

// dialStdioConn is a connection to the daemon through dialstdio.Run, as pierd
// makes one with `pier-buildkitd dial-stdio`: a socket pair, one end the
// client's, the other dialstdio.Run's stdin and stdout.
func dialStdioConn(t *testing.T, socket string) (net.Conn, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	go func() {
		if err := dialstdio.Run(socket, conns[1], conns[1]); err != nil {
			t.Logf("dial-stdio: %v", err)
		}
	}()
	return conns[0], nil
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"
)

// testcontainers-go against pierd, as a Go test uses it: a GenericContainer
// with an exposed port, a health check, and log, port, HTTP and health
// check wait strategies (one VM);
// Host and MappedPort reach its server from the test; Logs; Exec with exit
// codes and output; Terminate removes the container. It runs twice: as on
// a host (testcontainers dials localhost) and as in a CI job's container,
// where /.dockerenv makes testcontainers dial the bridge network's gateway
// (172.17.0.1), which pierd puts on the host (engine/hostgw). The switch
// is testcontainers' own DockerEnvFile, pointed at a file that exists or
// one that does not, so both ways run whatever this machine has.
func TestTestcontainersGenericContainer(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)

	// testcontainers-go finds the daemon through DOCKER_HOST (and reads
	// registry credentials from DOCKER_CONFIG). Its reaper, Ryuk, is
	// disabled and the test terminates its containers itself.
	// testcontainers reads both settings once per process: no other test
	// here uses it.
	t.Setenv("DOCKER_HOST", "unix://"+d.sock)
	t.Setenv("DOCKER_CONFIG", filepath.Join(filepath.Dir(d.sock), "docker-config"))
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")

	saved := tcDockerEnvFile
	t.Cleanup(func() { tcDockerEnvFile = saved })
	present := filepath.Join(t.TempDir(), "dockerenv")
	if err := os.WriteFile(present, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("on the host", func(t *testing.T) {
		tcDockerEnvFile = filepath.Join(t.TempDir(), "absent")
		genericContainer(t, d, bb, "localhost", true)
	})
	t.Run("in a CI job container", func(t *testing.T) {
		tcDockerEnvFile = present
		genericContainer(t, d, bb, "172.17.0.1", false)
	})
	t.Run("FromDockerfile", func(t *testing.T) {
		tcDockerEnvFile = filepath.Join(t.TempDir(), "absent")
		fromDockerfile(t, bb)
	})
}

// fromDockerfile builds an image with testcontainers-go's FromDockerfile
// (the classic POST /build) and runs it until its log shows what the
// build's RUN wrote.
func fromDockerfile(t *testing.T, base string) {
	dir := t.TempDir()
	df := "ARG BASE\nFROM ${BASE}\nRUN echo built-by-testcontainers > /marker\nCMD [\"sh\", \"-c\", \"cat /marker; sleep 300\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			FromDockerfile: testcontainers.FromDockerfile{
				Context:   dir,
				BuildArgs: map[string]*string{"BASE": &base},
			},
			WaitingFor: wait.ForLog("built-by-testcontainers").WithStartupTimeout(2 * time.Minute),
		},
		Started: true,
		Logger:  log.TestLogger(t),
	})
	if c != nil {
		defer c.Terminate(ctx)
	}
	if err != nil {
		t.Fatalf("testcontainers FromDockerfile: %v", err)
	}
}

// genericContainer starts a busybox httpd with testcontainers-go, checks
// that Host is wantHost and that the server answers there, and, when full,
// also Logs and Exec, then terminates it.
func genericContainer(t *testing.T, d *daemon, bb, wantHost string, full bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        bb,
			ExposedPorts: []string{"80/tcp"},
			Entrypoint:   []string{"/bin/sh", "-c"},
			Cmd:          []string{"mkdir -p /www && echo hello-from-tc > /www/index.html && echo ready && exec httpd -f -p 80 -h /www"},
			// A health check that pierd runs in the VM, which
			// wait.ForHealthCheck polls for in inspect.
			ConfigModifier: func(c *container.Config) {
				c.Healthcheck = &container.HealthConfig{
					Test:     []string{"CMD-SHELL", "wget -qO- http://127.0.0.1/ | grep -q hello-from-tc"},
					Interval: time.Second,
				}
			},
			WaitingFor: wait.ForAll(
				wait.ForLog("ready"),
				wait.ForListeningPort("80/tcp"),
				wait.ForHTTP("/").WithPort("80/tcp"),
				wait.ForHealthCheck(),
			).WithDeadline(2 * time.Minute),
		},
		Started: true,
		Logger:  log.TestLogger(t),
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("GenericContainer: %v\npierd log:\n%s", err, tail(d.log.String(), 30))
	}
	t.Logf("GenericContainer started and ready: %v", time.Since(start).Round(time.Millisecond))
	id := ctr.GetContainerID()

	host, err := ctr.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if host != wantHost {
		t.Errorf("Host = %q, want %q", host, wantHost)
	}
	port, err := ctr.MappedPort(ctx, "80/tcp")
	if err != nil {
		t.Fatal(err)
	}
	if got := httpGet(t, "http://"+host+":"+port.Port()+"/"); got != "hello-from-tc\n" {
		t.Fatalf("GET %s:%s: %q", host, port.Port(), got)
	}
	if health := d.ok(t, "inspect", "-f", "{{.State.Health.Status}} {{(index .State.Health.Log 0).ExitCode}}", id); health != "healthy 0\n" {
		t.Fatalf("health after wait.ForHealthCheck: %q", health)
	}
	if full {
		logsAndExec(ctx, t, d, ctr)
	}

	start = time.Now()
	// httpd has no SIGTERM handler: as under dockerd, the stop waits its
	// timeout and kills, so keep it short.
	if err := ctr.Terminate(ctx, testcontainers.StopTimeout(time.Second)); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	t.Logf("Terminate: %v", time.Since(start).Round(time.Millisecond))
	if left := d.ok(t, "ps", "-a", "-q", "--filter", "id="+id); left != "" {
		t.Fatalf("container left after Terminate: %q", left)
	}
}

// logsAndExec checks testcontainers' labels, Logs and Exec on ctr.
func logsAndExec(ctx context.Context, t *testing.T, d *daemon, ctr testcontainers.Container) {
	id := ctr.GetContainerID()
	if labels := d.ok(t, "inspect", "-f", `{{index .Config.Labels "org.testcontainers"}} {{index .Config.Labels "org.testcontainers.lang"}}`, id); labels != "true go\n" {
		t.Fatalf("testcontainers labels: %q", labels)
	}

	logs, err := ctr.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(logs)
	logs.Close()
	if !strings.Contains(string(b), "ready") {
		t.Fatalf("Logs: %q", b)
	}

	code, out, err := ctr.Exec(ctx, []string{"cat", "/www/index.html"}, tcexec.Multiplexed())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(out); code != 0 || string(b) != "hello-from-tc\n" {
		t.Fatalf("Exec cat: exit %d, %q", code, b)
	}
	code, out, err = ctr.Exec(ctx, []string{"sh", "-c", "echo to-stderr >&2; exit 3"}, tcexec.Multiplexed())
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(out); code != 3 || string(b) != "to-stderr\n" {
		t.Fatalf("Exec exit 3: exit %d, %q", code, b)
	}
}

// testcontainers-go copies files into a container before it starts
// (ContainerRequest.Files, then CopyToContainer on the created
// container) and copies a report out once it exited
// (CopyFileFromContainer): the archive API on created and exited
// containers, served by maintenance VMs.
func TestTestcontainersCopiesFiles(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	t.Setenv("DOCKER_HOST", "unix://"+d.sock)
	t.Setenv("DOCKER_CONFIG", filepath.Join(filepath.Dir(d.sock), "docker-config"))
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	hostFile := filepath.Join(t.TempDir(), "input.txt")
	if err := os.WriteFile(hostFile, []byte("from a host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: bb,
			Files: []testcontainers.ContainerFile{
				{HostFilePath: hostFile, ContainerFilePath: "/tmp/input.txt", FileMode: 0o644},
				{Reader: strings.NewReader("key=value\n"), ContainerFilePath: "/srv/conf/app.conf", FileMode: 0o600},
			},
			Cmd:        []string{"sh", "-c", "cat /tmp/input.txt /srv/conf/app.conf /tmp/late.txt > /tmp/report.txt; stat -c %a /srv/conf/app.conf >> /tmp/report.txt"},
			WaitingFor: wait.ForExit().WithExitTimeout(2 * time.Minute),
		},
		Started: false,
		Logger:  log.TestLogger(t),
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("GenericContainer: %v\npierd log:\n%s", err, tail(d.log.String(), 30))
	}
	if err := ctr.CopyToContainer(ctx, []byte("copied before the start\n"), "/tmp/late.txt", 0o644); err != nil {
		t.Fatalf("CopyToContainer before the start: %v", err)
	}
	if err := ctr.Start(ctx); err != nil {
		t.Fatalf("Start: %v\npierd log:\n%s", err, tail(d.log.String(), 30))
	}
	state, err := ctr.State(ctx)
	if err != nil || state.Running || state.ExitCode != 0 {
		t.Fatalf("state after the run: %+v, %v", state, err)
	}
	rc, err := ctr.CopyFileFromContainer(ctx, "/tmp/report.txt")
	if err != nil {
		t.Fatalf("CopyFileFromContainer after the exit: %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if want := "from a host file\nkey=value\ncopied before the start\n600\n"; string(b) != want {
		t.Fatalf("report = %q, want %q", b, want)
	}
}

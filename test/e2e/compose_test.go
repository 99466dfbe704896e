package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// requireCompose skips (fails under CI) when `make compose` has not built
// the Compose v2 plugin that the harness's docker config points at.
func requireCompose(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(composePlugins(), "docker-compose")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Compose v2 missing (%v): run make compose", err)
		}
		t.Skipf("Compose v2 not built (%v): run make compose", err)
	}
}

// composeFile is the project of TestComposeUpLogsDown: web publishes an
// httpd on a host port; client, on the project's default network and on a
// second network, fetches web by its service name and by an alias that
// exists only on the second network, retrying while web boots.
const composeFile = `services:
  web:
    image: %[1]s
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
      - "127.0.0.1:%[2]s:80"
    networks:
      default: {}
      back:
        aliases: [web-back]
  client:
    image: %[1]s
    command: ["sh", "-c", "for i in $$(seq 60); do wget -qO- http://web/ && wget -qO- http://web-back/ && exit 0; sleep 1; done; exit 1"]
    depends_on: [web]
    networks: [default, back]
networks:
  back: {}
`

// Docker Compose v2 (built by make compose) against pierd: up -d creates
// the project's two networks and two containers (two VMs); the published
// port answers from the host; the client reaches web by service name and
// by an alias of the second network and exits 0 (docker wait, ps -a,
// logs); compose exec runs in web; down removes the containers and both
// networks and releases the port.
func TestComposeUpLogsDown(t *testing.T) {
	requireCompose(t)
	d := sharedDaemon(t)
	bb := busybox(t, d)
	addr := freeTCPAddr(t)
	_, port, _ := net.SplitHostPort(addr)

	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(composeFile, bb, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	const project = "piercompose"
	compose := func(args ...string) []string {
		return append([]string{"compose", "-f", file, "-p", project}, args...)
	}
	t.Cleanup(func() { d.docker(t, "", compose("down", "-t", "1")...) })

	start := time.Now()
	d.ok(t, compose("up", "-d")...)
	t.Logf("compose up -d: %v", time.Since(start).Round(time.Millisecond))

	if got := httpGet(t, "http://"+addr+"/"); got != "hello-from-web\n" {
		t.Fatalf("web through 127.0.0.1:%s: %q", port, got)
	}
	// docker wait, not compose wait: compose wait lists running containers
	// only, and the client may have exited by then.
	if out := d.ok(t, "wait", project+"-client-1"); strings.TrimSpace(out) != "0" {
		t.Fatalf("docker wait of the client: %q\nlogs: %s", out, d.ok(t, compose("logs", "client")...))
	}
	ps := d.ok(t, compose("ps", "-a", "--format", "{{.Service}} {{.State}} {{.ExitCode}}")...)
	if lines := strings.Split(strings.TrimSpace(ps), "\n"); !slices.Equal(lines, []string{"client exited 0", "web running 0"}) {
		t.Fatalf("compose ps -a: %q", ps)
	}
	if out := d.ok(t, compose("logs", "--no-log-prefix", "client")...); out != "hello-from-web\nhello-from-web\n" {
		t.Fatalf("compose logs client: %q", out)
	}
	if out := d.ok(t, compose("exec", "-T", "web", "cat", "/www/index.html")...); out != "hello-from-web\n" {
		t.Fatalf("compose exec web: %q", out)
	}
	projectNets := func() string {
		return d.ok(t, "network", "ls", "--filter", "label=com.docker.compose.project="+project, "--format", "{{.Name}}")
	}
	if nets := projectNets(); nets != project+"_back\n"+project+"_default\n" {
		t.Fatalf("project networks: %q", nets)
	}

	// down by project name alone: Compose finds the containers, networks
	// and volumes by label (GET /volumes must answer, with none).
	start = time.Now()
	// -t 1: httpd ignores SIGTERM as PID 1 would, so down waits, then kills.
	d.ok(t, "compose", "-p", project, "down", "-t", "1")
	t.Logf("compose down: %v", time.Since(start).Round(time.Millisecond))
	if left := d.ok(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+project, "--format", "{{.Names}}"); left != "" {
		t.Fatalf("containers left after down: %q", left)
	}
	if nets := projectNets(); nets != "" {
		t.Fatalf("networks left after down: %q", nets)
	}
	if all := d.ok(t, "network", "ls", "--format", "{{.Name}}"); strings.Contains(all, project) {
		t.Fatalf("network ls after down: %q", all)
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after down", addr)
	}
}

// composeVolumesFromFile: reader takes data's anonymous volume
// (volumes_from) and logs with json-file options.
const composeVolumesFromFile = `services:
  data:
    image: %[1]s
    command: ["sh", "-c", "echo from-data > /shared/f && exec sleep 600"]
    volumes: ["/shared"]
  reader:
    image: %[1]s
    command: ["sh", "-c", "for i in $$(seq 60); do cat /shared/f 2>/dev/null && exit 0; sleep 0.5; done; exit 1"]
    volumes_from: ["data:ro"]
    depends_on: [data]
    logging:
      driver: json-file
      options:
        max-size: "1k"
        max-file: "2"
`

// Compose's volumes_from and logging reach pierd as dockerd takes them:
// the reader sees what data wrote into its volume, and its log options
// are the container's.
func TestComposeVolumesFromAndLogging(t *testing.T) {
	requireCompose(t)
	d := sharedDaemon(t)
	bb := busybox(t, d)
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(composeVolumesFromFile, bb)), 0o644); err != nil {
		t.Fatal(err)
	}
	const project = "piercomposevf"
	compose := func(args ...string) []string {
		return append([]string{"compose", "-f", file, "-p", project}, args...)
	}
	t.Cleanup(func() { d.docker(t, "", compose("down", "-v", "-t", "1")...) })
	d.ok(t, compose("up", "-d")...)
	if out := d.ok(t, "wait", project+"-reader-1"); strings.TrimSpace(out) != "0" {
		t.Fatalf("docker wait of the reader: %q\nlogs: %s", out, d.ok(t, compose("logs", "reader")...))
	}
	if out := d.ok(t, compose("logs", "--no-log-prefix", "reader")...); strings.TrimSpace(out) != "from-data" {
		t.Fatalf("compose logs reader: %q", out)
	}
	out := d.ok(t, "inspect", "-f", "{{len .HostConfig.VolumesFrom}} {{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{range .Mounts}}{{.Destination}} {{.RW}}{{end}}", project+"-reader-1")
	// Read-write: Compose v2.40 hands dockerd (and pier) the data
	// container's ID alone, without the ":ro" (convergence.go).
	if out != "1 json-file 1k /shared true\n" {
		t.Fatalf("inspect of the reader: %q", out)
	}
}

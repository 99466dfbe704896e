package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// composeHealthFile is the project of TestComposeServiceHealthy: web turns
// healthy two seconds after it starts (its check tests a file it makes
// then); client depends on web being healthy.
const composeHealthFile = `services:
  web:
    image: %[1]s
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 600"]
    healthcheck:
      test: ["CMD-SHELL", "test -f /tmp/ready"]
      interval: 1s
      timeout: 5s
      retries: 30
  client:
    image: %[1]s
    command: ["sleep", "600"]
    depends_on:
      web:
        condition: service_healthy
`

// Compose with health checks (two VMs): `up -d --wait` returns once web is
// healthy and client runs; Compose started client only after web's
// health_status: healthy event (depends_on condition: service_healthy).
func TestComposeServiceHealthy(t *testing.T) {
	requireCompose(t)
	d := sharedDaemon(t)
	bb := busybox(t, d)
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(composeHealthFile, bb)), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) []string {
		return append([]string{"compose", "-f", file, "-p", "pierhealth"}, args...)
	}
	t.Cleanup(func() { d.docker(t, "", compose("down", "-t", "0")...) })

	since := fmt.Sprint(time.Now().Unix())
	start := time.Now()
	d.ok(t, compose("up", "-d", "--wait", "--wait-timeout", "180")...)
	t.Logf("compose up -d --wait: %v", time.Since(start).Round(time.Millisecond))

	ps := d.ok(t, compose("ps", "--format", "{{.Service}} {{.State}} {{.Health}}")...)
	if lines := strings.Split(strings.TrimSpace(ps), "\n"); len(lines) != 2 || lines[0] != "client running " || lines[1] != "web running healthy" {
		t.Fatalf("compose ps after up --wait: %q", ps)
	}
	events := d.ok(t, "events", "--since", since, "--until", fmt.Sprint(time.Now().Unix()+1),
		"--filter", "label=com.docker.compose.project=pierhealth", "--filter", "event=start", "--filter", "event=health_status",
		"--format", "{{.Actor.Attributes.name}} {{.Action}}")
	want := "pierhealth-web-1 start\npierhealth-web-1 health_status: healthy\npierhealth-client-1 start\n"
	if !strings.HasPrefix(events, want) {
		t.Fatalf("events: %q, want them to begin with %q", events, want)
	}
}

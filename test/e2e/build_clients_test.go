package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Compose `up --build` of a service with a build: section (Compose builds
// through the buildx plugin's bake, i.e. BuildKit over /grpc and /session),
// then the built image runs as the service.
func TestComposeUpBuild(t *testing.T) {
	requireCompose(t)
	d := sharedDaemon(t)
	bb := busybox(t, d)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("ARG BASE\nFROM ${BASE}\nRUN echo built-by-compose > /marker\nCMD [\"cat\", \"/marker\"]\n"), 0o644)
	file := filepath.Join(dir, "compose.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("services:\n  app:\n    build:\n      context: ./app\n      args:\n        BASE: %s\n    image: piercomposebuild-app:1\n", bb)), 0o644)
	compose := func(args ...string) []string {
		return append([]string{"compose", "-f", file, "-p", "piercomposebuild"}, args...)
	}
	t.Cleanup(func() {
		d.docker(t, "", compose("down", "-t", "1", "--rmi", "all")...)
	})
	d.ok(t, compose("up", "--build", "-d")...)
	if out, errOut, code := d.docker(t, "", compose("wait", "app")...); code != 0 {
		t.Fatalf("compose wait app: exit %d\n%s\n%s", code, out, errOut)
	}
	if out := d.ok(t, compose("logs", "--no-log-prefix", "app")...); strings.TrimSpace(out) != "built-by-compose" {
		t.Fatalf("compose logs app: %q", out)
	}
}

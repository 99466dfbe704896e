package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
	// docker wait, not compose wait: compose wait lists running containers
	// only, and the app may have exited by then.
	if out := d.ok(t, "wait", "piercomposebuild-app-1"); strings.TrimSpace(out) != "0" {
		t.Fatalf("docker wait of the app: %q", out)
	}
	if out := d.ok(t, compose("logs", "--no-log-prefix", "app")...); strings.TrimSpace(out) != "built-by-compose" {
		t.Fatalf("compose logs app: %q", out)
	}
}

// A builder VM that a SIGKILLed pierd left running is stopped by the next
// pierd as it starts, not only when it next builds; an idle builder VM
// stops after --builder-idle-timeout, and the next build starts it again
// (its cache kept).
func TestBuilderOfAKilledDaemonIsStopped(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t, "--builder-idle-timeout=6s")
	defer d.stop(t)
	bb := busybox(t, d)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+bb+"\nRUN true\n"), 0o644)
	d.ok(t, "buildx", "build", "-q", dir)
	builderVMs := func() []int {
		return processes(d.dataDir, func(args []string) bool {
			cmdline := strings.Join(args, " ")
			return strings.Contains(cmdline, "qemu-system") && strings.Contains(cmdline, filepath.Join(d.dataDir, "builder"))
		})
	}
	if n := len(builderVMs()); n != 1 {
		t.Fatalf("%d builder VMs after a build, want 1", n)
	}
	args := d.cmd.Args[1:]
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if n := len(builderVMs()); n != 1 {
		t.Fatalf("%d builder VMs after pierd was killed, want the one it left", n)
	}
	d.launch(t, args)
	gone := func(why string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for len(builderVMs()) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s:\n%s", why, tail(d.log.String(), 20))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	gone("the builder VM of the killed pierd still runs a minute after the next one started")

	// Idle: the VM goes, the next build brings it back and uses the cache.
	d.ok(t, "buildx", "build", "-q", dir)
	if n := len(builderVMs()); n != 1 {
		t.Fatalf("%d builder VMs after a build, want 1", n)
	}
	gone("the builder VM still runs a minute after its last build (idle timeout 6 s)")
	_, progress, code := d.docker(t, "", "buildx", "build", "--progress=plain", dir)
	if code != 0 || !strings.Contains(progress, "CACHED") {
		t.Fatalf("a build after the idle stop: exit %d\n%s", code, progress)
	}

	// A builder VM that dies (its disk not flushed) costs the cache, never
	// a build: the next one starts from a fresh disk.
	for _, pid := range builderVMs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	gone("the killed builder VM is still there")
	d.ok(t, "buildx", "build", "-q", dir)
	if !strings.Contains(d.log.String(), "did not stop cleanly: its build cache is dropped") {
		t.Fatalf("the builder after a killed one kept the cache it may have torn:\n%s", tail(d.log.String(), 20))
	}
}

// A build FROM a local image that was rebuilt since the last build uses
// the new one (the builder asks pierd which image a tag names now).
func TestBuildFromARebuiltLocalBase(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	base, child := t.TempDir(), t.TempDir()
	defer d.docker(t, "", "rmi", "-f", "pierbase:1", "pierchild:1")
	os.WriteFile(filepath.Join(child, "Dockerfile"), []byte("FROM pierbase:1\nCMD [\"cat\", \"/v\"]\n"), 0o644)
	for _, v := range []string{"one", "two"} {
		os.WriteFile(filepath.Join(base, "Dockerfile"), []byte("FROM "+bb+"\nRUN echo "+v+" > /v\n"), 0o644)
		d.ok(t, "buildx", "build", "-q", "-t", "pierbase:1", base)
		d.ok(t, "buildx", "build", "-q", "-t", "pierchild:1", child)
		if got := d.ok(t, "run", "--rm", "pierchild:1"); got != v+"\n" {
			t.Fatalf("the child of base %q printed %q", v, got)
		}
	}
}

package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testcerts"
)

// freePort is a tcp port on 127.0.0.1 nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// remoteDocker runs the docker CLI with env (DOCKER_HOST and TLS settings)
// instead of the daemon's unix socket.
func remoteDocker(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

// TestRemoteClientsOverTLS serves the API on tcp://127.0.0.1:PORT with
// --tlsverify, as dockerd does, and drives it with the docker CLI's
// DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH: a client whose
// certificate the CA signed gets version, info and images; a client with
// no certificate, with one another CA signed, or without TLS at all is
// refused. pierd runs without VM templates and no command here starts a
// container, so no VM boots.
func TestRemoteClientsOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, "pier e2e CA")
	other := testcerts.NewCA(t, "another CA")
	srv := ca.Server(t, filepath.Join(dir, "server"))
	good := ca.Client(t, filepath.Join(dir, "good"), ca)
	forged := other.Client(t, filepath.Join(dir, "forged"), ca)
	anon := ca.TrustOnly(t, filepath.Join(dir, "anon"))

	port := freePort(t)
	d := startDaemon(t, "-H", "tcp://127.0.0.1:"+port, "--vm-templates", "off",
		"--tlsverify", "--tlscacert", srv.CA, "--tlscert", srv.Cert, "--tlskey", srv.Key)
	defer d.stop(t)
	host := "DOCKER_HOST=tcp://127.0.0.1:" + port

	withCert := []string{host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + good.Dir}
	out, errOut, code := remoteDocker(t, withCert, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}}")
	if code != 0 || !strings.Contains(out, "1.51") {
		t.Fatalf("docker version with a client certificate of the CA: exit %d\n%s%s\n%s", code, out, errOut, tail(d.log.String(), 20))
	}
	if out, errOut, code = remoteDocker(t, withCert, "info", "--format", "{{.ID}} {{.Name}}"); code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("docker info: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = remoteDocker(t, withCert, "images"); code != 0 || !strings.HasPrefix(out, "REPOSITORY") {
		t.Fatalf("docker images: exit %d\n%s%s", code, out, errOut)
	}

	for name, env := range map[string][]string{
		"no client certificate":       {host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + anon.Dir},
		"a certificate of another CA": {host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + forged.Dir},
		"plain HTTP to the TLS port":  {host},
	} {
		out, errOut, code := remoteDocker(t, env, "version", "--format", "{{.Server.Version}}")
		t.Logf("client with %s: exit %d: %s", name, code, strings.TrimSpace(errOut))
		if code == 0 || strings.TrimSpace(out) != "" {
			t.Errorf("client with %s was served: exit %d, stdout %q", name, code, out)
		}
		if name != "plain HTTP to the TLS port" && !strings.Contains(errOut, "certificate") && !strings.Contains(errOut, "tls") {
			t.Errorf("client with %s: refusal does not mention TLS: %s", name, errOut)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(d.dataDir, "containers")); len(entries) != 0 {
		t.Errorf("the TLS test made containers: %v", entries)
	}
	if left := vmProcesses(d.dataDir); len(left) != 0 {
		t.Errorf("VM processes of the TLS test's pierd: %v", left)
	}
}

// TestPlainTCPOffLoopbackRefusedUnlessAllowed starts pierd on tcp://0.0.0.0
// without TLS: it refuses to start, with dockerd's warning and how to
// override it; with --tls=false it starts, warns, and serves the docker
// CLI over plain HTTP. Neither boots a VM.
func TestPlainTCPOffLoopbackRefusedUnlessAllowed(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cmd := exec.Command(pierdBin, "-H", "unix://"+filepath.Join(dir, "d.sock"), "-H", "tcp://0.0.0.0:"+port,
		"--data-root", filepath.Join(dir, "data"), "--guest-dir", guestDir, "--accel", "tcg", "--vm-templates", "off")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("pierd started on tcp://0.0.0.0 without TLS:\n%s", log.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("pierd kept running on tcp://0.0.0.0 without TLS:\n%s", log.String())
	}
	for _, want := range []string{"Binding to IP address without --tlsverify is insecure", "'--tls=false' or '--tlsverify=false'"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("refusal does not say %q:\n%s", want, log.String())
		}
	}

	d := startDaemon(t, "-H", "tcp://0.0.0.0:"+port, "--tls=false", "--vm-templates", "off")
	defer d.stop(t)
	out, errOut, code := remoteDocker(t, []string{"DOCKER_HOST=tcp://127.0.0.1:" + port}, "version", "--format", "{{.Server.APIVersion}}")
	if code != 0 || strings.TrimSpace(out) != "1.51" {
		t.Fatalf("docker version over plain tcp with --tls=false: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(d.log.String(), "Binding to IP address without --tlsverify is insecure") {
		t.Errorf("pierd did not warn about plain tcp:\n%s", tail(d.log.String(), 20))
	}
}

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildContext writes a build context exercising the Dockerfile
// instructions docker build users rely on; the image's CMD prints what the
// build put in it.
func buildContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	dockerfile := `ARG BASE
FROM ${BASE} AS base
ARG GREETING=hi
ENV G=$GREETING
WORKDIR /app
COPY hello.txt ./
RUN echo "$G from run" > /app/run.txt && mkdir /data && chown 1000:1000 /data
RUN ["sh", "-c", "echo exec-form > /app/exec.txt"]
COPY --chown=1000:1000 owned.txt /data/
ADD files.tar /added/
COPY . /ctx/
LABEL org.example.built=yes
EXPOSE 8080
HEALTHCHECK --interval=30s CMD true

FROM base AS final
COPY --from=base /app/run.txt /final.txt
USER 1000
ENTRYPOINT ["sh", "-c"]
CMD ["cat /app/hello.txt /app/run.txt /app/exec.txt /final.txt /added/x; stat -c owner=%u:%g /data/owned.txt; id -u; ls /ctx"]
`
	files := map[string]string{
		"Dockerfile":    dockerfile,
		"hello.txt":     "hello from the context\n",
		"owned.txt":     "owned\n",
		"ignored.txt":   "must not reach the build\n",
		".dockerignore": "ignored.txt\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Size: 9, Typeflag: tar.TypeReg})
	tw.Write([]byte("from tar\n"))
	tw.Close()
	if err := os.WriteFile(filepath.Join(dir, "files.tar"), tb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkBuiltImage runs the built image and checks what the build put in it.
func checkBuiltImage(t *testing.T, d *daemon, ref, greeting string) {
	t.Helper()
	out := d.ok(t, "run", "--rm", ref)
	for _, want := range []string{
		"hello from the context\n", greeting + " from run\n", "exec-form\n", "from tar\n",
		"owner=1000:1000", // COPY --chown
		"\n1000\n",        // USER
		"hello.txt",       // COPY . /ctx
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("docker run %s printed:\n%s\nwant it to hold %q", ref, out, want)
		}
	}
	if strings.Contains(out, "ignored.txt") {
		t.Fatalf("a file .dockerignore names reached the image:\n%s", out)
	}
	cfg := d.ok(t, "image", "inspect", "-f", "{{.Config.WorkingDir}} {{json .Config.ExposedPorts}} {{index .Config.Labels \"org.example.built\"}} {{.Config.User}} {{json .Config.Healthcheck.Test}} {{json .Config.Env}}", ref)
	for _, want := range []string{"/app ", `{"8080/tcp":{}}`, " yes ", " 1000 ", `["CMD-SHELL","true"]`, "G=" + greeting} {
		if !strings.Contains(cfg, want) {
			t.Fatalf("image config of %s: %s\nwant it to hold %q", ref, cfg, want)
		}
	}
}

// docker build through BuildKit (the buildx plugin's docker driver, over
// /grpc and /session) and through the classic endpoint (DOCKER_BUILDKIT=0
// docker build); the cache, a failing RUN, --target and bad input.
func TestBuild(t *testing.T) {
	if _, err := os.Stat(filepath.Join(guestDir, "builder-root.tar")); err != nil {
		t.Fatalf("the builder's root file system is missing (make builder makes it): %v", err)
	}
	d := sharedDaemon(t)
	bb := busybox(t, d)
	dir := buildContext(t)
	defer d.docker(t, "", "rmi", "-f", "built:1", "built:base", "classic:1")

	start := time.Now()
	d.ok(t, "buildx", "build", "--load", "-t", "built:1", "--build-arg", "BASE="+bb, "--build-arg", "GREETING=hello", dir)
	first := time.Since(start)
	checkBuiltImage(t, d, "built:1", "hello")

	// The same build again comes from the cache.
	start = time.Now()
	_, progress, code := d.docker(t, "", "buildx", "build", "--progress=plain", "--load", "-t", "built:1", "--build-arg", "BASE="+bb, "--build-arg", "GREETING=hello", dir)
	again := time.Since(start)
	if code != 0 || !strings.Contains(progress, "CACHED") {
		t.Fatalf("second build: exit %d\n%s", code, progress)
	}
	t.Logf("docker buildx build: first %v, again from the cache %v", first.Round(time.Millisecond), again.Round(time.Millisecond))

	// --target stops at a stage.
	d.ok(t, "buildx", "build", "--load", "-t", "built:base", "--target", "base", "--build-arg", "BASE="+bb, dir)
	if out := d.ok(t, "image", "inspect", "-f", "{{json .Config.Entrypoint}}", "built:base"); strings.Contains(out, "sh") {
		t.Fatalf("--target base has the final stage's entrypoint: %s", out)
	}

	// A build for the other architecture runs its RUN steps under the
	// emulator, in the builder VM, and gives an image of that platform.
	arm := t.TempDir()
	os.WriteFile(filepath.Join(arm, "Dockerfile"), []byte("FROM "+bb+"\nRUN uname -m > /arch\nCMD [\"cat\", \"/arch\"]\n"), 0o644)
	defer d.docker(t, "", "rmi", "-f", "built:arm64")
	d.ok(t, "buildx", "build", "--load", "--platform", "linux/arm64", "-t", "built:arm64", arm)
	if got := strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "built:arm64")); got != "linux/arm64" {
		t.Fatalf("--platform linux/arm64 built an image for %s", got)
	}
	if got := d.ok(t, "run", "--rm", "built:arm64"); got != "aarch64\n" {
		t.Fatalf("RUN uname -m in a linux/arm64 build printed %q", got)
	}
	// The build's pull of the arm64 base left the user's tag alone.
	if got := strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", bb)); got != "amd64" {
		t.Fatalf("after an arm64 build, %s names an image for %s", bb, got)
	}

	// The classic endpoint, as DOCKER_BUILDKIT=0 and testcontainers use it.
	classic := *d
	classic.env = append(append([]string{}, d.env...), "DOCKER_BUILDKIT=0")
	out, errOut, code := classic.docker(t, "", "build", "-t", "classic:1", "--build-arg", "BASE="+bb, "--build-arg", "GREETING=classic", dir)
	if code != 0 || !strings.Contains(out, "Successfully tagged classic:1") {
		t.Fatalf("DOCKER_BUILDKIT=0 docker build: exit %d\n%s\n%s", code, out, errOut)
	}
	checkBuiltImage(t, d, "classic:1", "classic")

	// A failing RUN fails the build with its output and exit code.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM "+bb+"\nRUN echo failing-output; exit 3\n"), 0o644)
	for _, c := range []*daemon{d, &classic} {
		out, errOut, code := c.docker(t, "", "build", bad)
		if code == 0 || !strings.Contains(out+errOut, "failing-output") || !strings.Contains(out+errOut, "exit code: 3") {
			t.Fatalf("a failing RUN: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	// Bad input: no Dockerfile, a context that is not a tar (the CLI
	// checks both itself: raw requests), an unknown instruction.
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	tw.Write([]byte("FROM "))
	tw.Close()
	for _, c := range []struct {
		query, body, want string
	}{
		{"dockerfile=Nope", ctxTar.String(), `{"message":"Cannot locate specified Dockerfile: Nope"}`},
		{"", "this is not a tar archive, not even close to one", `the build context is not a tar archive`},
	} {
		resp, body := d.raw(t, http.MethodPost, "/v1.51/build?"+c.query, "application/x-tar", strings.NewReader(c.body))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Fatalf("POST /build?%s: %d %s, want 400 %s", c.query, resp.StatusCode, body, c.want)
		}
	}
	os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM "+bb+"\nFROBNICATE x\n"), 0o644)
	if out, errOut, code := d.docker(t, "", "build", bad); code == 0 || !strings.Contains(strings.ToLower(out+errOut), "unknown instruction: frobnicate") || !strings.Contains(out+errOut, "line 2") {
		t.Fatalf("an unknown instruction: exit %d\n%s\n%s", code, out, errOut)
	}
	// A COPY source outside the context is not found in it.
	os.WriteFile(filepath.Join(bad, "Dockerfile"), []byte("FROM "+bb+"\nCOPY ../../etc/passwd /stolen\n"), 0o644)
	if out, errOut, code := d.docker(t, "", "build", bad); code == 0 || !strings.Contains(out+errOut, "not found") {
		t.Fatalf("a COPY from outside the context: exit %d\n%s\n%s", code, out, errOut)
	}

	// The build cache shows in docker system df, and a prune empties it.
	cacheRecords := func() int {
		_, body := d.rawGET(t, "/v1.51/system/df?type=build-cache")
		var du struct{ BuildCache []struct{ ID string } }
		if err := json.Unmarshal([]byte(body), &du); err != nil {
			t.Fatalf("system df: %v: %s", err, body)
		}
		return len(du.BuildCache)
	}
	if n := cacheRecords(); n == 0 {
		t.Fatal("no build cache in system df after the builds")
	}
	if out := d.ok(t, "builder", "prune", "-a", "-f"); !strings.Contains(out, "Total:") && !strings.Contains(out, "Total reclaimed space") {
		t.Fatalf("docker builder prune -a -f: %q", out)
	}
	if n := cacheRecords(); n != 0 {
		t.Fatalf("%d build cache records left after docker builder prune -a", n)
	}
}

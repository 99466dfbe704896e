package commitconfig

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func busyboxContainer() container.Config {
	return container.Config{
		Hostname: "c0ffee", Image: "busybox",
		Env:    []string{"PATH=/usr/bin:/bin", "HOME=/root"},
		Cmd:    []string{"sh", "-c", "echo hi > /hello"},
		Labels: map[string]string{"from": "container"},
	}
}

func TestApplyChangesFollowsTheDockerfile(t *testing.T) {
	cfg := busyboxContainer()
	got, err := ApplyChanges(cfg, []string{
		`CMD ["cat","/hello"]`,
		`ENV X=1 HOME=/home/app`,
		`ENV Y $X-two`,
		`EXPOSE 80 53/udp 8000-8001`,
		`LABEL a=b "c d"="e f"`,
		`ONBUILD RUN echo built`,
		`USER app:app`,
		`VOLUME ["/data", "/cache"]`,
		`VOLUME /logs`,
		`WORKDIR /srv`,
		`WORKDIR sub`,
		`STOPSIGNAL SIGUSR1`,
		`HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost`,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := busyboxContainer()
	want.Cmd = []string{"cat", "/hello"}
	want.Env = []string{"PATH=/usr/bin:/bin", "HOME=/home/app", "X=1", "Y=1-two"}
	want.ExposedPorts = []string{"53/udp", "80/tcp", "8000/tcp", "8001/tcp"}
	want.Labels = map[string]string{"from": "container", "a": "b", "c d": "e f"}
	want.OnBuild = []string{"RUN echo built"}
	want.User = "app:app"
	want.Volumes = []string{"/cache", "/data", "/logs"}
	want.WorkingDir = "/srv/sub"
	want.StopSignal = "SIGUSR1"
	want.Healthcheck = &container.Healthcheck{Test: []string{"CMD-SHELL", "wget -q localhost"}, Interval: 5 * time.Second, Retries: 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(cfg, busyboxContainer()) {
		t.Fatalf("the input config was modified: %+v", cfg)
	}
}

func TestShellFormCommandsRunInTheShell(t *testing.T) {
	got, err := ApplyChanges(busyboxContainer(), []string{"CMD echo $HOME hi"})
	if err != nil {
		t.Fatal(err)
	}
	// CMD is not expanded: the shell does it when the container runs.
	if want := []string{"/bin/sh", "-c", "echo $HOME hi"}; !reflect.DeepEqual(got.Cmd, want) {
		t.Fatalf("Cmd = %q, want %q", got.Cmd, want)
	}
	withShell := busyboxContainer()
	withShell.Shell = []string{"/bin/bash", "-lc"}
	got, err = ApplyChanges(withShell, []string{"ENTRYPOINT exec server"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/bash", "-lc", "exec server"}; !reflect.DeepEqual(got.Entrypoint, want) {
		t.Fatalf("Entrypoint = %q, want %q", got.Entrypoint, want)
	}
	// An ENTRYPOINT without a CMD in the same changes clears Cmd, as in a
	// Dockerfile.
	if got.Cmd != nil {
		t.Fatalf("Cmd = %q after ENTRYPOINT alone", got.Cmd)
	}
	got, err = ApplyChanges(busyboxContainer(), []string{`CMD ["serve"]`, `ENTRYPOINT ["/app"]`})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Cmd, []string{"serve"}) || !reflect.DeepEqual(got.Entrypoint, []string{"/app"}) {
		t.Fatalf("Cmd %q Entrypoint %q", got.Cmd, got.Entrypoint)
	}
}

func TestApplyChangesRefusesWithDockerdsWords(t *testing.T) {
	for change, want := range map[string]string{
		"FOO bar":                    "FOO is not a valid change command",
		"RUN echo hi":                "RUN is not a valid change command",
		"FROM busybox":               "FROM is not a valid change command",
		"STOPSIGNAL NOPE":            "Invalid signal: NOPE",
		"EXPOSE 80/carrier":          "invalid proto",
		"ENV":                        "ENV requires at least one argument",
		"WORKDIR":                    "WORKDIR requires exactly one argument",
		`HEALTHCHECK --x=1 CMD true`: "unknown flag: --x",
	} {
		_, err := ApplyChanges(busyboxContainer(), []string{change})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want one saying %q", change, err, want)
			continue
		}
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("%q: %v is not an invalid parameter", change, err)
		}
	}
}

func TestNoChangesIsTheConfig(t *testing.T) {
	cfg := busyboxContainer()
	got, err := ApplyChanges(cfg, nil)
	if err != nil || !reflect.DeepEqual(got, cfg) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

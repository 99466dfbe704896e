package restart

import (
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		p          container.RestartPolicy
		autoRemove bool
		want       string
	}{
		{container.RestartPolicy{}, false, ""},
		{container.RestartPolicy{Name: "no"}, true, ""},
		{container.RestartPolicy{Name: "always"}, false, ""},
		{container.RestartPolicy{Name: "unless-stopped"}, false, ""},
		{container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, false, ""},
		{container.RestartPolicy{Name: "always", MaximumRetryCount: 3}, false, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{container.RestartPolicy{Name: "no", MaximumRetryCount: -1}, false, "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"},
		{container.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}, false, "invalid restart policy: maximum retry count cannot be negative"},
		{container.RestartPolicy{Name: "sometimes"}, false, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{container.RestartPolicy{Name: "always"}, true, "can't create 'AutoRemove' container with restart policy"},
	} {
		err := Validate(tc.p, tc.autoRemove)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.p, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errdefs.IsInvalidParameter(err)):
			t.Errorf("%+v autoRemove=%v: %v, want invalid parameter %q", tc.p, tc.autoRemove, err, tc.want)
		}
	}
}

func TestShouldRestart(t *testing.T) {
	onFailure2 := container.RestartPolicy{Name: OnFailure, MaximumRetryCount: 2}
	for _, tc := range []struct {
		name    string
		p       container.RestartPolicy
		code    int
		count   int
		stopped bool
		want    bool
	}{
		{"no", container.RestartPolicy{Name: No}, 1, 0, false, false},
		{"empty", container.RestartPolicy{}, 1, 0, false, false},
		{"always on success", container.RestartPolicy{Name: Always}, 0, 7, false, true},
		{"always after a stop", container.RestartPolicy{Name: Always}, 0, 0, true, true},
		{"unless-stopped", container.RestartPolicy{Name: UnlessStopped}, 0, 0, false, true},
		{"unless-stopped after a stop", container.RestartPolicy{Name: UnlessStopped}, 0, 0, true, false},
		{"on-failure success", onFailure2, 0, 0, false, false},
		{"on-failure first", onFailure2, 3, 0, false, true},
		{"on-failure second", onFailure2, 3, 1, false, true},
		{"on-failure spent", onFailure2, 3, 2, false, false},
		{"on-failure unbounded", container.RestartPolicy{Name: OnFailure}, 1, 100, false, true},
	} {
		if got := ShouldRestart(tc.p, tc.code, tc.count, tc.stopped); got != tc.want {
			t.Errorf("%s: ShouldRestart = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAtDaemonStart(t *testing.T) {
	ran := container.State{StartedAt: time.Unix(1, 0), ExitCode: 0}
	mk := func(name string, state container.State, stopped bool) container.Container {
		return container.Container{HostConfig: container.HostConfig{RestartPolicy: container.RestartPolicy{Name: name}}, State: state, ManuallyStopped: stopped}
	}
	if !AtDaemonStart(mk(Always, ran, true)) {
		t.Error("always, stopped by the user: want a start at daemon start")
	}
	if AtDaemonStart(mk(UnlessStopped, ran, true)) {
		t.Error("unless-stopped, stopped by the user: want no start")
	}
	if !AtDaemonStart(mk(UnlessStopped, ran, false)) {
		t.Error("unless-stopped, not stopped by the user: want a start")
	}
	if AtDaemonStart(mk(Always, container.State{}, false)) {
		t.Error("never started: want no start")
	}
	if AtDaemonStart(mk(No, ran, false)) {
		t.Error("no: want no start")
	}
	if !AtDaemonStart(mk(OnFailure, container.State{StartedAt: time.Unix(1, 0), ExitCode: 255}, false)) {
		t.Error("on-failure after a crash: want a start")
	}
}

func TestBackoff(t *testing.T) {
	var b Backoff
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, w := range want {
		if got := b.Next(time.Second); got != w {
			t.Fatalf("restart %d: %v, want %v", i+1, got, w)
		}
	}
	for range 20 {
		b.Next(0)
	}
	if got := b.Next(0); got != MaxDelay {
		t.Fatalf("after many restarts: %v, want the cap %v", got, MaxDelay)
	}
	if got := b.Next(10 * time.Second); got != FirstDelay {
		t.Fatalf("after a 10 s run: %v, want %v again", got, FirstDelay)
	}
	b.Next(0)
	b.Reset()
	if got := b.Next(0); got != FirstDelay {
		t.Fatalf("after Reset: %v, want %v", got, FirstDelay)
	}
}

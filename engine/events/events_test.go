package events

import (
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	e := Event{Type: TypeContainer, Action: "exec_start: sh -c ls", Actor: Actor{ID: "abcdef123", Attributes: map[string]string{
		"name": "web", "image": "busybox:latest", "com.example.project": "p1", "tier": "front",
	}}}
	cases := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Types: []string{"image"}}, false},
		{Filter{Types: []string{"image", "container"}}, true},
		{Filter{Containers: []string{"abc"}}, true},
		{Filter{Containers: []string{"/web"}}, true},
		{Filter{Containers: []string{"db"}}, false},
		{Filter{Actions: []string{"exec_start"}}, true},
		{Filter{Actions: []string{"start"}}, false},
		{Filter{Images: []string{"busybox"}}, true},
		{Filter{Images: []string{"alpine"}}, false},
		{Filter{Labels: []string{"com.example.project=p1", "tier"}}, true},
		{Filter{Labels: []string{"com.example.project=p1", "tier=back"}}, false},
	}
	for i, c := range cases {
		if got := c.f.Match(e); got != c.want {
			t.Errorf("case %d %+v: got %v", i, c.f, got)
		}
	}
}

func TestBusHistoryAndSlowSubscriber(t *testing.T) {
	b := NewBus()
	b.max = 3
	for _, a := range []string{"a", "b", "c", "d"} {
		b.Publish(Event{Type: TypeContainer, Action: a})
	}
	history, live, cancel := b.Subscribe()
	if len(history) != 3 || history[0].Action != "b" || history[0].Scope != "local" || history[0].Time.IsZero() {
		t.Fatalf("history %+v", history)
	}
	b.Publish(Event{Action: "e", Time: time.Unix(1, 0)})
	if e := <-live; e.Action != "e" || e.Time.Unix() != 1 {
		t.Fatalf("live %+v", e)
	}
	for i := 0; i < subscriberBuffer+1; i++ {
		b.Publish(Event{Action: "flood"})
	}
	n := 0
	for range live {
		n++
	}
	if n != subscriberBuffer {
		t.Fatalf("slow subscriber got %d events before being dropped", n)
	}
	cancel() // after the drop: must not panic
}

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

// Image filters as dockerd's: an image event is known by its ID and its
// name attribute, each with or without its tag; a container event by its
// image attribute.
func TestFilterImageAsDockerd(t *testing.T) {
	pull := Event{Type: TypeImage, Action: "pull", Actor: Actor{ID: "busybox:1.36", Attributes: map[string]string{"name": "busybox"}}}
	tag := Event{Type: TypeImage, Action: "tag", Actor: Actor{ID: "sha256:25e17299dde6", Attributes: map[string]string{"name": "other/bb:2"}}}
	run := Event{Type: TypeContainer, Action: "start", Actor: Actor{ID: "abc", Attributes: map[string]string{"image": "busybox:1.36", "name": "bb"}}}
	cases := []struct {
		e     Event
		image string
		want  bool
	}{
		{pull, "busybox", true},
		{pull, "busybox:1.36", true},
		{pull, "busybox:latest", false},
		{tag, "other/bb", true},
		{tag, "other/bb:2", true},
		{tag, "sha256:25e17299dde6", true},
		{tag, "bb", false},
		{run, "busybox", true},
		{run, "bb", false}, // a container's name is not an image
	}
	for i, c := range cases {
		if got := (Filter{Images: []string{c.image}}).Match(c.e); got != c.want {
			t.Errorf("case %d: %s on %s %s: got %v", i, c.image, c.e.Type, c.e.Actor.ID, got)
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

// Package events is the engine's event bus: every component publishes what
// happened (a container was created, started, died, ...) and API clients
// subscribe, first replaying recent history, then following live events.
package events

import (
	"sync"
	"time"
)

// Event types, as Docker names them.
const (
	TypeContainer = "container"
	TypeImage     = "image"
	TypeNetwork   = "network"
	TypeVolume    = "volume"
	TypeDaemon    = "daemon"
)

// Actor is the object an event is about.
type Actor struct {
	// ID is the object's ID (a container ID, an image reference, ...).
	ID string
	// Attributes describe the object: name, image, labels, exitCode, ...
	Attributes map[string]string
}

// Event is one thing that happened.
type Event struct {
	Type   string
	Action string
	Actor  Actor
	// Scope is "local" for everything pier does.
	Scope string
	Time  time.Time
}

// DefaultHistory is how many past events a Bus keeps for replay.
const DefaultHistory = 1024

// subscriberBuffer is how many events a subscriber may lag behind before it
// is dropped (its channel closed) so a slow client never blocks the engine.
const subscriberBuffer = 1024

// Bus fans events out to subscribers and keeps a bounded history.
type Bus struct {
	mu      sync.Mutex
	history []Event
	max     int
	subs    map[chan Event]struct{}
	now     func() time.Time
}

// NewBus returns a bus keeping the last DefaultHistory events.
func NewBus() *Bus {
	return &Bus{max: DefaultHistory, subs: map[chan Event]struct{}{}, now: time.Now}
}

// Publish records e (stamping Time and Scope when unset) and hands it to
// every subscriber. It never blocks: a subscriber that lags too far behind
// is dropped.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	if e.Scope == "" {
		e.Scope = "local"
	}
	b.history = append(b.history, e)
	if len(b.history) > b.max {
		b.history = append([]Event(nil), b.history[len(b.history)-b.max:]...)
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
			delete(b.subs, ch)
			close(ch)
		}
	}
}

// Subscribe returns the recorded history and a channel of the events
// published from now on, atomically (no event is lost or seen twice).
// cancel ends the subscription; the channel is closed then, or when the
// subscriber lagged too far behind.
func (b *Bus) Subscribe() (history []Event, live <-chan Event, cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan Event, subscriberBuffer)
	b.subs[ch] = struct{}{}
	history = append([]Event(nil), b.history...)
	cancel = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}
	return history, ch, cancel
}

// Package events serves GET /events: the engine's event history since a
// point in time, then live events, as a stream of JSON objects.
package events

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is what the events route needs: an event bus (*events.Bus is
// one).
type Backend interface {
	Subscribe() (history []events.Event, live <-chan events.Event, cancel func())
}

// Router serves the events route.
type Router struct {
	backend Backend
}

// NewRouter returns the events router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the events route.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{{Method: "GET", Path: "/events", Handler: r.getEvents}}
}

// getEvents replays the history between since and until (only when since
// is given, as dockerd does), then streams live events until until passes
// or the client goes away.
func (r *Router) getEvents(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	since, err := compat.ParseTimestamp(req.FormValue("since"))
	if err != nil {
		return err
	}
	until, err := compat.ParseTimestamp(req.FormValue("until"))
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.InvalidParameterf("`since` time (%s) cannot be after `until` time (%s)", req.FormValue("since"), req.FormValue("until"))
	}
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	filter, err := compat.EventFilter(args)
	if err != nil {
		return err
	}

	history, live, cancel := r.backend.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := httputils.NewFlushWriter(w)
	enc := json.NewEncoder(out)
	out.Write(nil) // flush the header: clients wait for it

	inRange := func(e events.Event) bool {
		return (since.IsZero() || !e.Time.Before(since)) && (until.IsZero() || !e.Time.After(until))
	}
	if !since.IsZero() {
		for _, e := range history {
			if inRange(e) && filter.Match(e) {
				if err := enc.Encode(compat.EventMessage(e)); err != nil {
					return nil
				}
			}
		}
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case <-req.Context().Done():
			return nil
		case <-deadline:
			return nil
		case e, ok := <-live:
			if !ok {
				return nil
			}
			if inRange(e) && filter.Match(e) {
				if err := enc.Encode(compat.EventMessage(e)); err != nil {
					return nil
				}
			}
		}
	}
}

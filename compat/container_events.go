package compat

import (
	apievents "github.com/docker/docker/api/types/events"

	"github.com/pier-vm/pier/engine/events"
)

// EventMessage converts an engine event to `docker events`' JSON form,
// including the deprecated status/id/from fields older clients read.
func EventMessage(e events.Event) apievents.Message {
	m := apievents.Message{
		Type:     apievents.Type(e.Type),
		Action:   apievents.Action(e.Action),
		Actor:    apievents.Actor{ID: e.Actor.ID, Attributes: e.Actor.Attributes},
		Scope:    e.Scope,
		Time:     e.Time.Unix(),
		TimeNano: e.Time.UnixNano(),
	}
	if m.Actor.Attributes == nil {
		m.Actor.Attributes = map[string]string{}
	}
	if e.Type == events.TypeContainer || e.Type == events.TypeImage {
		m.Status = e.Action
		m.ID = e.Actor.ID
		m.From = e.Actor.Attributes["image"]
	}
	return m
}

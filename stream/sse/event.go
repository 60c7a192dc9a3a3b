package sse

import "time"

// Event is one event dispatched by a server-sent events stream.
type Event struct {
	// ID is the stream's last event ID when the event was dispatched: the
	// value of the latest id field, in this event or an earlier one, as the
	// EventSource rules define it. It is what a reconnection sends as
	// Last-Event-ID.
	ID string

	// Event is the value of the event field, the event type. Empty means the
	// default type, "message".
	Event string

	// Data is the event's data: the values of its data fields joined with "\n".
	Data string

	// Retry is the reconnection delay set by the latest retry field of the
	// stream, in this event or an earlier one, or zero if none was seen.
	Retry time.Duration
}

package stream

// Stats is a snapshot of a [Client]'s counters, returned by [Client.Stats].
// Its counts are int64, as in fetch.Stats and workqueue.Stats.
type Stats struct {
	// State is the current state.
	State State
	// Dials counts calls to [Dialer.Dial].
	Dials int64
	// Connects counts connections that became usable (Dial, OnConnect and the
	// buffer flush succeeded).
	Connects int64
	// Disconnects counts usable connections that ended.
	Disconnects int64
	// MessagesIn counts messages handed to the handler.
	MessagesIn int64
	// MessagesOut counts messages written: by Send, by OnConnect's [Sender] and
	// from the send buffer.
	MessagesOut int64
	// Buffered is the number of messages waiting in the send buffer.
	Buffered int64
	// Dropped counts queued messages that were never written: too old at
	// flush ([Options.SendMaxAge]), refused at flush by the [Conn] (an error
	// matching [ErrInvalidMessage]), or still queued when Run returned.
	Dropped int64
	// LastError is the error that ended the last failed attempt or
	// connection, or nil.
	LastError error
}

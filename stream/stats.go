package stream

// Stats is a snapshot of a [Client]'s counters, returned by [Client.Stats].
type Stats struct {
	// State is the current state.
	State State
	// Dials counts calls to [Dialer.Dial].
	Dials uint64
	// Connects counts connections that became usable (Dial, OnConnect and the
	// buffer flush succeeded).
	Connects uint64
	// Disconnects counts usable connections that ended.
	Disconnects uint64
	// MessagesIn counts messages handed to the handler.
	MessagesIn uint64
	// MessagesOut counts messages written: by Send, by OnConnect's [Sender] and
	// from the send buffer.
	MessagesOut uint64
	// Buffered is the number of messages waiting in the send buffer.
	Buffered int
	// Dropped counts queued messages that were never written: too old at
	// flush ([Options.SendMaxAge]), refused at flush by the [Conn] (an error
	// matching [ErrInvalidMessage]), or still queued when Run returned.
	Dropped uint64
	// LastError is the error that ended the last failed attempt or
	// connection, or nil.
	LastError error
}

package stream

import (
	"context"
	"time"
)

// Conn is one live connection carrying messages of type M.
type Conn[M any] interface {
	// Read blocks until a message arrives, ctx ends or the connection
	// fails. The [Client] calls it on Run's goroutine, between handler
	// calls, so never concurrently with itself.
	Read(ctx context.Context) (M, error)

	// Write sends one message. The [Client] serialises writes, so it is
	// called from one goroutine at a time. An error matching
	// [ErrInvalidMessage] means the message was refused and nothing was
	// written: the connection stays up.
	Write(ctx context.Context, m M) error

	// Close closes the connection, gracefully if possible, and returns
	// within a bounded time: transports bound the graceful close and then
	// force it. It is safe to call concurrently with Read and Write, which
	// then return errors, and more than once.
	Close() error
}

// Pinger is implemented by Conns that can check liveness. Ping returns when
// the peer answered or ctx ends.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ActivityReporter is implemented by Conns that see traffic below the level
// of messages: keep-alive comments, control frames such as pongs, parts of a
// message still arriving. The [Client] counts every arrival as a sign of life:
// it restarts the IdleTimeout clock, and a ping during which bytes arrived
// is not held against the peer (see [Options.IdleTimeout] and
// [Options.PingTimeout]).
//
// LastActivity returns when bytes from the peer last arrived, or the zero
// Time if none did. It must be cheap and safe to call concurrently with
// Read: the Client's watchdog goroutine calls it as it checks the peer, and
// Run's goroutine when a Read fails with a ping in flight. Report
// bytes when they arrive, not when a message is complete: the peer is dead
// IdleTimeout after the last byte, whatever a half-received message looks
// like.
type ActivityReporter interface {
	LastActivity() time.Time
}

// ForceCloser is implemented by Conns that can close at once, without a
// closing handshake. The [Client] calls CloseNow instead of Close when the
// peer is deemed dead (a ping went unanswered, or nothing arrived for
// IdleTimeout): a graceful close would only wait for an answer that cannot
// come, and delay the reconnect. Like Close, CloseNow is safe to call
// concurrently with Read and Write, and more than once (also after Close).
type ForceCloser interface {
	CloseNow() error
}

// Dialer opens connections. A dial error wrapped with [retry.Permanent] ends
// Run.
type Dialer[M any] interface {
	Dial(ctx context.Context) (Conn[M], error)
}

// DialFunc adapts a function to [Dialer].
type DialFunc[M any] func(ctx context.Context) (Conn[M], error)

// Dial calls f(ctx).
func (f DialFunc[M]) Dial(ctx context.Context) (Conn[M], error) { return f(ctx) }

package stream

import "context"

// Conn is one live connection carrying messages of type M.
type Conn[M any] interface {
	// Read blocks until a message arrives, ctx ends or the connection fails. Called from one goroutine at a time.
	Read(ctx context.Context) (M, error)
	// Write sends one message. Called from one goroutine at a time (the Client serialises writes).
	Write(ctx context.Context, m M) error
	// Close closes the connection, gracefully if possible, and returns within a bounded time (transports bound
	// the graceful close and then force it). Safe to call concurrently with Read/Write, which then return errors; idempotent.
	Close() error
}

// Pinger is implemented by Conns that can check liveness; Ping returns when the peer answered or ctx ends.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Dialer opens connections. A dial error wrapped with retry.Permanent ends Run.
type Dialer[M any] interface {
	Dial(ctx context.Context) (Conn[M], error)
}

// DialFunc adapts a function to Dialer.
type DialFunc[M any] func(ctx context.Context) (Conn[M], error)

// Dial calls f(ctx).
func (f DialFunc[M]) Dial(ctx context.Context) (Conn[M], error) { return f(ctx) }

package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/activity"
	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

var (
	_ stream.Conn[Event]      = (*Conn)(nil)
	_ stream.ActivityReporter = (*Conn)(nil)
)

// Conn is one server-sent events stream returned by Dial. Read may be called
// by one goroutine at a time; Close and LastActivity may be called from any
// goroutine, also during a Read. Conn does not implement [stream.Pinger]: SSE
// has no ping, so detect a dead server with the Client's IdleTimeout, longer
// than the interval of the server's keep-alive comments. Conn implements
// [stream.ActivityReporter], so those comments, and every other byte of the
// body, count as signs of life.
type Conn struct {
	d        *Dialer
	body     io.ReadCloser
	cancel   context.CancelFunc // aborts the request and the body read
	dec      *Decoder
	activity *activity.Clock

	readMu sync.Mutex // held by Read; Close takes it to close the body
	err    error      // sticky error of Read, guarded by readMu
	closed atomic.Bool
	once   sync.Once

	// Read honours its ctx with one context.AfterFunc per distinct ctx (a
	// stream.Client passes the same one to every Read): see watchRead.
	reading   atomic.Uint64   // watchGen of the Read in progress, 0 if none
	watchGen  uint64          // counts registrations; guarded by readMu
	watchDone <-chan struct{} // Done of the ctx watched; guarded by readMu
	watchStop func() bool     // guarded by readMu
}

// Read blocks until the next event arrives and returns it, after recording
// its position (the last event ID) in the [Dialer] for the next connection.
//
// Read returns an error when the stream ends or fails, and then keeps
// returning it: io.EOF (wrapped) when the server ended the response,
// [ErrEventTooLarge], a network error, ctx's error if ctx ended before or
// during the Read (which aborts the stream; ending ctx after Read returned
// has no effect), or [ErrClosed] after Close. When the server set a reconnection
// delay with a retry field, on this connection or an earlier one, every
// error Read returns carries it as a [retry.After] hint — also after Close or
// ctx's end, so that a [stream.Client] that closed the connection itself (say,
// after its IdleTimeout) still waits at least that long before reconnecting.
func (c *Conn) Read(ctx context.Context) (Event, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.err != nil {
		return Event{}, c.err
	}
	if c.closed.Load() {
		c.err = withRetry(ErrClosed, c.dec.Retry())
		return Event{}, c.err
	}
	if done := ctx.Done(); done != nil {
		c.watchRead(ctx, done)
		c.reading.Store(c.watchGen)
		defer c.reading.Store(0)
	}
	// A ctx that ended before the Read aborts it even when a whole event
	// is already buffered, as websocket.Conn does. Otherwise the callback
	// runs before reading was set, or sees it.
	err := ctx.Err()
	if err == nil {
		var ev Event
		ev, err = c.dec.Next()
		c.d.setState(c.dec.LastEventID(), c.dec.Retry())
		if err == nil {
			return ev, nil
		}
	}
	// Only the end of ctx makes the error match a context error: the body
	// read fails with one also when Close cancelled the request.
	switch {
	case c.closed.Load():
		err = fmt.Errorf("%w: %w", ErrClosed, err)
		if ctx.Err() == nil {
			err = ctxerr.Hide(err)
		}
	case ctx.Err() != nil:
		err = fmt.Errorf("sse: read: %w", context.Cause(ctx))
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("sse: stream ended: %w", err)
	default:
		err = ctxerr.Hide(fmt.Errorf("sse: read: %w", err))
	}
	err = withRetry(err, c.dec.Retry())
	c.err = err
	c.cancel()
	c.body.Close()
	c.unwatch()
	return Event{}, err
}

// watchRead makes the end of ctx, whose Done channel is done, abort the
// stream while a Read is in progress, and only then: ending a ctx after its
// Read returned has no effect. The registration is kept for the next Read
// with the same ctx, so a stream of events costs one registration, not one
// per event, and is replaced when another ctx comes. The caller holds readMu.
func (c *Conn) watchRead(ctx context.Context, done <-chan struct{}) {
	if done == c.watchDone {
		return
	}
	if c.watchStop != nil {
		c.watchStop()
	}
	c.watchGen++
	gen := c.watchGen
	c.watchDone = done
	c.watchStop = context.AfterFunc(ctx, func() {
		// Only a Read with this ctx: the callback may run late, during a
		// Read with another one. Read sets reading before it checks
		// ctx.Err, so either this sees the Read or the Read sees the end.
		if c.reading.Load() == gen {
			c.cancel()
		}
	})
}

// unwatch drops the registration of watchRead, so that a long-lived ctx
// does not keep a finished Conn reachable. The caller holds readMu.
func (c *Conn) unwatch() {
	if c.watchStop != nil {
		c.watchStop()
		c.watchStop = nil
	}
}

// LastActivity returns when Read last received bytes of the body — a
// comment, a field line or part of one — or, before any, when the response
// header arrived ([stream.ActivityReporter]).
func (c *Conn) LastActivity() time.Time { return c.activity.Last() }

// Write returns [ErrReadOnly]: server-sent events flow only from the server.
func (c *Conn) Write(context.Context, Event) error { return ErrReadOnly }

// Close aborts the stream: it cancels the request, which makes a Read in
// progress return promptly, and closes the body. It is idempotent and always
// returns nil.
func (c *Conn) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		c.cancel()
		c.readMu.Lock() // a Read in progress returns promptly after cancel
		c.body.Close()
		c.unwatch()
		c.readMu.Unlock()
	})
	return nil
}

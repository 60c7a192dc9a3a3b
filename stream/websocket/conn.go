package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/activity"
	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

var (
	_ stream.Conn[Message] = (*Conn)(nil)
	_ stream.Pinger        = (*Conn)(nil)
	_ stream.ForceCloser   = (*Conn)(nil)

	_ stream.ActivityReporter = (*Conn)(nil)
)

const (
	initialReadBuf = 4 << 10  // first size of the reusable read buffer
	keptReadBuf    = 64 << 10 // larger buffers are dropped after the message
)

// Conn is one WebSocket connection returned by Dial.
//
// Read may be called by one goroutine at a time and Write by one goroutine at
// a time; Ping, Close and CloseNow may be called from any goroutine,
// concurrently with Read and Write. Read must be running for a Ping to see its pong and for the
// close handshake to complete early: github.com/coder/websocket processes
// control frames only inside Read.
//
// As with github.com/coder/websocket, a Read or Write whose ctx ends before it
// completes closes the connection: the next calls fail.
type Conn struct {
	ws           *websocket.Conn
	netConn      *netConnSlot    // nil when the TCP connection cannot be forced shut
	activity     *activity.Clock // nil when its reads cannot be seen
	closeTimeout time.Duration

	buf []byte // reused read buffer; owned by the goroutine in Read

	// Read gives github.com/coder/websocket a ctx that never ends (which
	// spares it two allocations per frame) and honours its own ctx with one
	// context.AfterFunc per distinct ctx: see watchRead.
	reading   atomic.Uint64   // watchGen of the Read in progress, 0 if none
	watchGen  uint64          // counts registrations; owned by the goroutine in Read
	watchDone <-chan struct{} // Done of the ctx watched; owned by the goroutine in Read
	watchMu   sync.Mutex      // guards watchStop, for Close
	watchStop func() bool

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// LastActivity returns when bytes last arrived on the connection — a frame,
// a control frame such as a pong, or part of one — or the zero Time if that
// cannot be seen ([stream.ActivityReporter]). It is seen when the [Dialer]'s
// HTTPClient has an *http.Transport (or none) without a DialTLSContext
// function. Bytes are read, and so seen, only while a Read is in progress.
func (c *Conn) LastActivity() time.Time {
	if c.activity == nil {
		return time.Time{}
	}
	return c.activity.Last()
}

// Subprotocol returns the subprotocol the server chose, or "".
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// Read blocks until a whole message has arrived and returns it; the [Message]
// owns its Data. It returns an error matching ctx.Err() when ctx ends before
// or during the Read (the connection is then closed; ending ctx after Read
// returned has no effect), when the peer closes the connection (the error wraps
// github.com/coder/websocket.CloseError, see CloseStatus there), when the
// message exceeds ReadLimit ([ErrMessageTooBig]; the connection is closed with
// status 1009), on a network error, or [ErrClosed] after Close or CloseNow.
func (c *Conn) Read(ctx context.Context) (Message, error) {
	if done := ctx.Done(); done != nil {
		c.watchRead(ctx, done)
		c.reading.Store(c.watchGen)
		defer c.reading.Store(0)
		if ctx.Err() != nil { // ended before the Read: closed, as in coder/websocket
			_ = c.ws.CloseNow()
			return Message{}, c.readError(ctx, ctx.Err())
		}
	}
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return Message{}, c.readError(ctx, err)
	}
	if c.buf == nil {
		c.buf = make([]byte, initialReadBuf)
	}
	n := 0
	for {
		if n == len(c.buf) {
			c.buf = slices.Grow(c.buf[:n], n)[:2*n]
		}
		m, err := r.Read(c.buf[n:])
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			c.dropLargeBuf()
			return Message{}, c.readError(ctx, err)
		}
	}
	m := Message{Type: Text, Data: make([]byte, n)}
	if typ == websocket.MessageBinary {
		m.Type = Binary
	}
	copy(m.Data, c.buf[:n])
	c.dropLargeBuf()
	return m, nil
}

func (c *Conn) dropLargeBuf() {
	if cap(c.buf) > keptReadBuf {
		c.buf = nil
	}
}

// watchRead makes the end of ctx, whose Done channel is done, close the
// connection while a Read is in progress. The registration is kept for the
// next Read with the same ctx (a stream.Client always passes the same one)
// and replaced when another ctx comes.
func (c *Conn) watchRead(ctx context.Context, done <-chan struct{}) {
	if done == c.watchDone {
		return
	}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if c.watchStop != nil {
		c.watchStop()
	}
	if c.closed.Load() {
		c.watchDone, c.watchStop = nil, nil
		return
	}
	c.watchGen++
	gen := c.watchGen
	c.watchDone = done
	c.watchStop = context.AfterFunc(ctx, func() {
		// Only a Read with this ctx: the callback may run late, during a
		// Read with another one. Read sets reading before it checks
		// ctx.Err, so either this sees the Read or the Read sees the end.
		if c.reading.Load() == gen {
			_ = c.ws.CloseNow()
		}
	})
}

// readError wraps a Read error. It matches a context error only if ctx
// ended: the caller's context is the only one that may pass for it.
func (c *Conn) readError(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	if ctxErr == nil {
		err = ctxerr.Hide(err)
	}
	if c.closed.Load() {
		return fmt.Errorf("%w: read: %w", ErrClosed, err)
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w: %w", ctxErr, err)
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return fmt.Errorf("%w: %w", ErrMessageTooBig, err)
	}
	return fmt.Errorf("websocket: read: %w", err)
}

// Write sends m as one text or binary message. It blocks until the message
// was handed to the operating system, ctx ended (the connection is then
// closed) or the connection failed. It returns [ErrMessageType] for an invalid
// m.Type (without closing the connection) and [ErrClosed] after Close.
func (c *Conn) Write(ctx context.Context, m Message) error {
	typ, err := m.Type.wire()
	if err != nil {
		return err
	}
	if err := c.ws.Write(ctx, typ, m.Data); err != nil {
		if ctx.Err() == nil {
			err = ctxerr.Hide(err)
		}
		if c.closed.Load() {
			return fmt.Errorf("%w: write: %w", ErrClosed, err)
		}
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}

// Ping sends a ping and blocks until the pong arrives, ctx ends or the
// connection closes. The pong is only processed while a Read is in progress
// on another goroutine. Ending ctx while Ping waits for the pong does not
// close the connection; ending it while the ping frame is being written
// does (github.com/coder/websocket closes a connection whose write was cut).
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.ws.Ping(ctx); err != nil {
		if ctx.Err() == nil {
			err = ctxerr.Hide(err)
		}
		if c.closed.Load() {
			return fmt.Errorf("%w: ping: %w", ErrClosed, err)
		}
		return fmt.Errorf("websocket: %w", err)
	}
	return nil
}

// Close closes the connection with status 1000 (normal closure). It sends a
// close frame and waits for the peer's answer for at most the [Dialer]'s
// CloseTimeout; if none came by then, it closes the TCP connection and
// returns [ErrCloseTimeout]. Close unblocks concurrent Read, Write and Ping calls, which
// return errors matching [ErrClosed]. It is idempotent: later and concurrent
// calls wait for the first to finish and return its result.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.markClosed()
		done := make(chan error, 1)
		go func() { done <- c.ws.Close(websocket.StatusNormalClosure, "") }()
		t := time.NewTimer(c.closeTimeout)
		defer t.Stop()
		select {
		case err := <-done:
			c.closeErr = closeResult(err)
		case <-t.C:
			if c.netConn != nil {
				c.netConn.close()
			}
			<-done
			c.closeErr = ErrCloseTimeout
		}
	})
	return c.closeErr
}

// CloseNow closes the connection at once, without a closing handshake: it
// closes the TCP connection ([stream.ForceCloser]). The Client uses it when the
// peer is deemed dead. It is safe to call concurrently with Read, Write and
// Close, and more than once. After Close it does nothing; during a Close it
// waits for that Close to finish. It always returns nil.
func (c *Conn) CloseNow() error {
	c.closeOnce.Do(func() {
		c.markClosed()
		if c.netConn != nil {
			c.netConn.close()
		}
		_ = c.ws.CloseNow()
	})
	return nil
}

// markClosed is the start of Close and CloseNow: later calls see ErrClosed,
// and the registration with the Read ctx is released.
func (c *Conn) markClosed() {
	c.closed.Store(true)
	c.watchMu.Lock()
	if c.watchStop != nil {
		c.watchStop()
	}
	c.watchMu.Unlock()
}

// closeResult keeps the errors of a close handshake that matter: a peer that
// already closed, or answered with another status, is not an error here.
func closeResult(err error) error {
	if err == nil {
		return nil
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("websocket: close: %w", err)
}

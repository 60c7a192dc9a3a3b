package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Client keeps one connection to a stream open, redialling with backoff when
// it fails, and hands every message it reads to a handler. Create it with
// [New], run it with [Client.Run] and write with [Client.Send]; Send and
// [Client.Stats] are safe for concurrent use, also with Run.
type Client[M any] struct {
	dialer Dialer[M]
	cfg    config[M]

	started atomic.Bool
	done    chan struct{} // closed when Run returns

	// wlock serialises every Conn.Write (and the decision to queue instead),
	// so writes never overlap and the send buffer is flushed before any newer
	// message is written. A channel, so that waiting for it honours ctx.
	wlock chan struct{}

	in, out atomic.Int64

	mu          sync.Mutex
	cur         *connection[M] // the connection Send writes to; nil while none is usable
	closed      bool
	buf         sendBuffer[M]
	state       State
	dials       int64
	connects    int64
	disconnects int64
	dropped     int64
	lastErr     error
}

// New returns a [Client] that dials with d. It returns an error wrapping
// [ErrInvalidOptions] if d is nil or o is invalid. New starts no goroutine and
// does not dial: Run does.
func New[M any](d Dialer[M], o Options[M]) (*Client[M], error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil Dialer", ErrInvalidOptions)
	}
	if f, ok := d.(DialFunc[M]); ok && f == nil {
		return nil, fmt.Errorf("%w: nil DialFunc", ErrInvalidOptions)
	}
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	return &Client[M]{
		dialer: d,
		cfg:    cfg,
		done:   make(chan struct{}),
		wlock:  make(chan struct{}, 1),
		buf:    sendBuffer[M]{cap: cfg.sendBuffer},
	}, nil
}

// Stats returns a snapshot of the [Client]'s counters.
func (c *Client[M]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{
		State:       c.state,
		Dials:       c.dials,
		Connects:    c.connects,
		Disconnects: c.disconnects,
		MessagesIn:  c.in.Load(),
		MessagesOut: c.out.Load(),
		Buffered:    int64(c.buf.len()),
		Dropped:     c.dropped,
		LastError:   c.lastErr,
	}
}

func (c *Client[M]) disconnected(err error, attempt int, delay time.Duration) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	c.setState(StateEvent{State: StateDisconnected, Err: err, Attempt: attempt, Delay: delay})
}

// setState records e, logs it and calls OnState, on Run's goroutine.
func (c *Client[M]) setState(e StateEvent) {
	c.mu.Lock()
	c.state = e.State
	c.mu.Unlock()
	level := slog.LevelDebug
	switch e.State {
	case StateConnected, StateClosed:
		level = slog.LevelInfo
	case StateDisconnected:
		level = slog.LevelWarn
	}
	if c.cfg.Logger.Enabled(context.Background(), level) {
		c.cfg.Logger.Log(context.Background(), level, "stream: "+e.State.String(),
			"attempt", e.Attempt, "delay", e.Delay, "err", e.Err)
	}
	if c.cfg.OnState != nil {
		c.cfg.OnState(e)
	}
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicego/sluice/internal/clock"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

// Run connects and serves the stream until ctx ends or a fatal error
// occurs, and blocks until then. It calls handler with each message, in
// order, one at a time, with Run's ctx, and redials with backoff when the
// connection fails; the package doc's sections [The run loop] and
// [Contexts] give the details.
//
// Run returns, with every goroutine it started stopped and the connection
// closed:
//   - ctx.Err(), when ctx ends (during a dial, a backoff wait, or a handler
//     that then returns; a handler that ignores ctx delays the return);
//   - handler's error, unchanged;
//   - an error marked with [retry.Permanent] from Dial, OnConnect (wrapped:
//     "stream: OnConnect: ...") or the connection, still marked
//     ([retry.IsPermanent] reports true);
//   - an error matching [ErrMaxFailures] and the last attempt's error, after
//     [Options.MaxFailures] consecutive failed attempts;
//   - [ErrRunCalled], at once, if Run was called before: a Client runs once.
//
// Then messages still in the send buffer are dropped (counted in
// [Stats.Dropped]) and Send returns [ErrClosed]. Run panics if handler is
// nil.
//
// [The run loop]: https://pkg.go.dev/github.com/sluicego/sluice/stream#hdr-The_run_loop
// [Contexts]: https://pkg.go.dev/github.com/sluicego/sluice/stream#hdr-Contexts
func (c *Client[M]) Run(ctx context.Context, handler func(ctx context.Context, m M) error) error {
	if handler == nil {
		panic("stream: Run with nil handler")
	}
	if !c.started.CompareAndSwap(false, true) {
		return ErrRunCalled
	}
	defer c.finish() // also if handler panics
	err := c.run(ctx, handler)
	c.setState(StateEvent{State: StateClosed, Err: err})
	return err
}

// finish marks the Client closed for Send and drops what is still queued.
func (c *Client[M]) finish() {
	c.mu.Lock()
	c.closed = true
	n := c.buf.clear()
	c.dropped += int64(n)
	c.mu.Unlock()
	close(c.done)
	if n > 0 {
		c.cfg.Logger.Warn("stream: dropping unsent messages", "count", n)
	}
}

func (c *Client[M]) run(ctx context.Context, handler func(context.Context, M) error) error {
	b := retry.Backoff{Schedule: c.cfg.Backoff}
	failures := 0 // consecutive failed attempts
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.setState(StateEvent{State: StateConnecting, Attempt: failures + 1})
		cn, err := c.connect(ctx)
		if err == nil {
			c.setState(StateEvent{State: StateConnected})
			start := time.Now()
			var fatal error
			err, fatal = c.serve(ctx, cn, handler)
			if fatal != nil {
				c.disconnected(fatal, failures, 0)
				return fatal
			}
			if time.Since(start) >= c.cfg.StableAfter {
				b.Reset()
				failures = 0
			} else {
				failures++
			}
		} else {
			failures++
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			c.disconnected(ctxErr, failures, 0)
			return ctxErr
		}
		// ctx is live: no reason may pass for the end of it.
		err = ctxerr.Hide(err)
		if retry.IsPermanent(err) {
			c.disconnected(err, failures, 0)
			return err
		}
		if m := c.cfg.MaxFailures; m > 0 && failures >= m {
			c.disconnected(err, failures, 0)
			return fmt.Errorf("%w (%d in a row): %w", ErrMaxFailures, failures, err)
		}
		delay := b.NextFor(err)
		c.disconnected(err, failures, delay)
		if err := clock.Sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// connect makes one connection attempt: Dial, OnConnect, flush. On success
// the connection is published to Send and its watchdog, if any, is running.
func (c *Client[M]) connect(ctx context.Context) (*connection[M], error) {
	// The connection's context is the one Dial receives, so a transport may
	// tie the connection's life to it; it ends at teardown, or when the
	// attempt takes longer than ConnectTimeout. It follows Run's ctx only
	// until the connection is up: from then on, the end of Run's ctx makes
	// the connection close first (gracefully, see serve) and only then ends
	// cctx, as a transport may drop the connection abruptly when the ctx of
	// a Read in progress ends (github.com/coder/websocket does).
	cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	unlink := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	timer := time.AfterFunc(c.cfg.ConnectTimeout, func() { cancel(ErrConnectTimeout) })
	// The attempt overran ConnectTimeout if its deadline passed, by the
	// clock, whether or not the timer has fired yet.
	overran := func() bool { return !time.Now().Before(deadline) }
	failed := func(err error) error {
		timer.Stop()
		unlink()
		if ctx.Err() == nil && (overran() || errors.Is(context.Cause(cctx), ErrConnectTimeout)) && !errors.Is(err, ErrConnectTimeout) {
			err = fmt.Errorf("%w after %v: %w", ErrConnectTimeout, c.cfg.ConnectTimeout, ctxerr.Hide(err))
		}
		cancel(err)
		return err
	}

	c.mu.Lock()
	c.dials++
	c.mu.Unlock()
	conn, err := c.dialer.Dial(cctx)
	if err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, failed(err)
	}
	if conn == nil {
		return nil, failed(errors.New("stream: Dial returned a nil Conn and no error"))
	}
	cn := newConnection(cctx, cancel, conn)
	if c.cfg.OnConnect != nil {
		if err := c.cfg.OnConnect(cctx, connSender[M]{c: c, cn: cn}); err != nil {
			cn.close()
			return nil, failed(fmt.Errorf("stream: OnConnect: %w", err))
		}
	}
	if err := c.flush(cn, func() bool { return timer.Stop() && !overran() }); err != nil {
		cn.close()
		return nil, failed(err)
	}
	if unlink() {
		// Run's ctx ending closes the connection, then ends cctx; teardown
		// waits for that.
		cn.wg.Add(1)
		cn.unlink = context.AfterFunc(ctx, func() {
			defer cn.wg.Done()
			cn.close()
			cn.cancel(context.Cause(ctx))
		})
	}
	// The liveness clock exists, and costs Run's goroutine its atomic adds
	// per message, only when a watchdog reads it: pings on a Pinger, or
	// IdleTimeout.
	var pinger Pinger
	if c.cfg.pings {
		pinger, _ = conn.(Pinger)
	}
	if pinger != nil || c.cfg.IdleTimeout > 0 {
		cn.live = newLiveness(c.cfg.IdleTimeout > 0)
		cn.act, _ = conn.(ActivityReporter)
		cn.wg.Go(func() { cn.watch(pinger, c.cfg.Heartbeat, c.cfg.PingTimeout, c.cfg.IdleTimeout) })
	}
	return cn, nil
}

// serve reads cn on Run's goroutine and hands each message to handler
// until the connection fails (connErr) or Run must return (fatal: handler's
// error or ctx.Err()). Nothing reads cn while handler runs, so the liveness
// clock is suspended meanwhile. serve tears cn down before returning.
func (c *Client[M]) serve(ctx context.Context, cn *connection[M], handler func(context.Context, M) error) (connErr, fatal error) {
	defer c.teardown(cn)
	for {
		m, err := cn.conn.Read(cn.ctx)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr // the end of ctx closed cn
			}
			if r := cn.readEnded(); r != nil {
				err = keepHint(r, err)
			}
			return err, nil
		}
		c.in.Add(1)
		cn.live.suspend()
		err = handler(ctx, m)
		cn.live.resume()
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// teardown unpublishes cn, closes it, ends its ctx and waits for its
// watchdog and for the close on the end of Run's ctx.
func (c *Client[M]) teardown(cn *connection[M]) {
	c.mu.Lock()
	if c.cur == cn {
		c.cur = nil
	}
	c.disconnects++
	c.mu.Unlock()
	if cn.unlink != nil && cn.unlink() {
		cn.wg.Done() // the AfterFunc will not run
	}
	close(cn.stop)
	cn.close() // before cancel: a graceful close needs the Read ctx live
	cn.cancel(context.Canceled)
	cn.wg.Wait()
}

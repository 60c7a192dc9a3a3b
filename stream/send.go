package stream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sender writes messages. [*Client] implements it, and [Options.OnConnect] receives one
// that writes on the new connection directly.
type Sender[M any] interface {
	Send(ctx context.Context, m M) error
}

// Send writes m on the current connection, or queues it while there is none.
//
// While a connection is up, Send waits for earlier writes (writes never
// overlap, whoever calls Send) and returns the Write error, if any; a failed
// write also closes the connection so that Run redials, unless the error
// matches [ErrInvalidMessage] (the message was refused, the connection stays
// up) or ctx ended during the write. While no connection
// is up — before Run, during a dial or a backoff wait — Send queues m and
// returns nil; queued messages are written in order after the next
// successful OnConnect, ahead of any later Send. Send returns
// [ErrSendBufferFull] if [Options.SendBuffer] messages are already queued,
// [ErrClosed] once Run has returned, and ctx.Err() if ctx ends while it waits.
func (c *Client[M]) Send(ctx context.Context, m M) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case c.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return ErrClosed
	}
	defer func() { <-c.wlock }()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	cn := c.cur
	if cn == nil {
		q := queued[M]{m: m}
		if c.cfg.SendMaxAge > 0 {
			q.at = time.Now()
		}
		ok := c.buf.push(q)
		c.mu.Unlock()
		if !ok {
			return ErrSendBufferFull
		}
		return nil
	}
	c.mu.Unlock()
	return c.write(ctx, cn, m)
}

// write writes m on cn; the caller holds wlock.
func (c *Client[M]) write(ctx context.Context, cn *connection[M], m M) error {
	if err := cn.conn.Write(ctx, m); err != nil {
		if ctx.Err() == nil && !errors.Is(err, ErrInvalidMessage) {
			cn.fail(fmt.Errorf("stream: write: %w", err))
		}
		return err
	}
	c.out.Add(1)
	return nil
}

// connSender is the Sender given to OnConnect: it writes on its connection
// directly, bypassing the send buffer.
type connSender[M any] struct {
	c  *Client[M]
	cn *connection[M]
}

func (s connSender[M]) Send(ctx context.Context, m M) error {
	select {
	case s.c.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.cn.stop:
		return ErrClosed
	}
	defer func() { <-s.c.wlock }()
	return s.c.write(ctx, s.cn, m)
}

// flush writes the send buffer on cn in order and, once it is empty and
// commit (which stops the connect timer) succeeds, publishes cn to Send.
// It holds wlock throughout, so no Send overtakes the buffer.
func (c *Client[M]) flush(cn *connection[M], commit func() bool) error {
	select {
	case c.wlock <- struct{}{}:
	case <-cn.ctx.Done():
		return context.Cause(cn.ctx)
	}
	defer func() { <-c.wlock }()
	for {
		c.mu.Lock()
		q, ok := c.buf.pop()
		if !ok {
			if !commit() {
				c.mu.Unlock()
				return ErrConnectTimeout
			}
			c.cur = cn
			c.connects++
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if age := c.cfg.SendMaxAge; age > 0 && time.Since(q.at) > age {
			c.mu.Lock()
			c.dropped++
			c.mu.Unlock()
			c.cfg.Logger.Warn("stream: dropping stale queued message", "age", time.Since(q.at), "max_age", age)
			continue
		}
		if err := cn.conn.Write(cn.ctx, q.m); err != nil {
			if errors.Is(err, ErrInvalidMessage) {
				c.mu.Lock()
				c.dropped++
				c.mu.Unlock()
				c.cfg.Logger.Warn("stream: dropping a queued message the connection refused", "err", err)
				continue
			}
			c.mu.Lock()
			c.buf.pushFront(q) // room: Sends cannot queue while we hold wlock
			c.mu.Unlock()
			return fmt.Errorf("stream: flushing send buffer: %w", err)
		}
		c.out.Add(1)
	}
}

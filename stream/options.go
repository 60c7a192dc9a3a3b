package stream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicego/sluice/retry"
)

// Defaults used for zero fields of Options.
const (
	DefaultStableAfter    = 10 * time.Second
	DefaultHeartbeat      = 30 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultSendBuffer     = 64
)

// Options configures a [Client]. The zero value is usable: each zero field takes
// the default documented on it. Negative durations are rejected by [New] unless
// a field says otherwise.
type Options[M any] struct {
	// Backoff gives the delays between connection attempts; a dial error
	// carrying a [retry.After] hint waits at least that long (capped at
	// Backoff.MaxHint). The zero Schedule starts at 100ms and doubles up to
	// 10s with full jitter. The first attempt is never delayed.
	Backoff retry.Schedule

	// StableAfter is how long a connection must stay up before it counts as a
	// success: only then is the backoff reset and the MaxFailures count cleared.
	// A server that accepts and then drops at once therefore sees the delays
	// grow instead of a reconnect storm. Zero means [DefaultStableAfter] (10s).
	StableAfter time.Duration

	// MaxFailures is how many consecutive connection attempts may fail before
	// Run gives up with [ErrMaxFailures]. An attempt fails when Dial, OnConnect
	// or the flush of the send buffer fails or ConnectTimeout passes, or when
	// the connection ends before StableAfter.
	// Zero means no limit: a reconnecting client keeps trying until its
	// context ends. (It counts failures, not attempts, and so is not named
	// like retry.Policy.MaxAttempts, whose zero means 5.)
	MaxFailures int

	// ConnectTimeout bounds one connection attempt: Dial, OnConnect and the
	// flush of the send buffer. Zero means [DefaultConnectTimeout] (30s).
	ConnectTimeout time.Duration

	// Heartbeat is the interval between liveness pings on connections whose
	// [Conn] implements [Pinger]. Pings pause while the handler runs: the
	// connection is not read then, so no pong could be seen. Zero means
	// [DefaultHeartbeat] (30s); a negative value disables pings.
	Heartbeat time.Duration

	// PingTimeout is how long a ping may go unanswered, while the handler is
	// idle, before the connection is declared dead ([ErrPingTimeout]), closed
	// and redialled. A ping during which a message arrived, and so the
	// handler ran, is not held against the peer, nor one during which bytes
	// arrived on a [Conn] that implements [ActivityReporter]. A ping is a timeout
	// only once its deadline passed: one that fails earlier (the connection
	// closing under it) waits for the deadline, and if the connection ends
	// first, the reason it ended is reported instead. The ping runs beside
	// the idle check, which it does not delay. Zero means Heartbeat, so a
	// dead peer is detected within two Heartbeats of the handler returning.
	PingTimeout time.Duration

	// IdleTimeout closes and redials a connection on which nothing arrived —
	// no message, no answered ping and, on a [Conn] that implements
	// [ActivityReporter], no bytes at all (keep-alive comments, control frames,
	// parts of a message) — for this long ([ErrIdleTimeout]). Set it above the
	// interval of the server's keep-alives.
	// Time in the handler does not count: the clock stops while the handler
	// runs and restarts from zero when it returns. Zero disables the check.
	IdleTimeout time.Duration

	// OnConnect, if set, runs after each successful Dial and before any
	// message is read or any buffered message is flushed; use it to
	// (re)subscribe. Messages sent through s are written on the new connection
	// at once, ahead of the send buffer. An error fails the attempt like a
	// dial error (a [retry.Permanent] one ends Run). ctx ends when the
	// connection ends, when Run's context ends or after ConnectTimeout.
	OnConnect func(ctx context.Context, s Sender[M]) error

	// OnState, if set, is called on Run's goroutine at every state change,
	// in order. It must not block and must not call Run.
	OnState func(StateEvent)

	// SendBuffer is how many messages Send queues while disconnected; they are
	// written in order after the next successful OnConnect. Beyond it Send
	// returns [ErrSendBufferFull]. Zero means [DefaultSendBuffer] (64); a negative
	// value disables queueing (Send then fails with ErrSendBufferFull whenever
	// no connection is up).
	SendBuffer int

	// SendMaxAge, if positive, drops queued messages that waited longer than
	// this when the buffer is flushed, so a long outage does not end in a burst
	// of stale data. Dropped messages are counted in [Stats.Dropped] and logged.
	SendMaxAge time.Duration

	// Logger receives connection events (connect, disconnect with reason,
	// dropped messages). Nil means no logging.
	Logger *slog.Logger
}

// config is Options with defaults applied.
type config[M any] struct {
	Options[M]
	sendBuffer int // 0 = queueing disabled
	pings      bool
}

func (o Options[M]) config() (config[M], error) {
	c := config[M]{Options: o}
	neg := func(name string, d time.Duration) error {
		if d < 0 {
			return fmt.Errorf("%w: %s is negative (%v)", ErrInvalidOptions, name, d)
		}
		return nil
	}
	b := o.Backoff
	for _, e := range []error{
		neg("StableAfter", o.StableAfter),
		neg("ConnectTimeout", o.ConnectTimeout),
		neg("PingTimeout", o.PingTimeout),
		neg("IdleTimeout", o.IdleTimeout),
		neg("SendMaxAge", o.SendMaxAge),
	} {
		if e != nil {
			return c, e
		}
	}
	if o.MaxFailures < 0 {
		return c, fmt.Errorf("%w: MaxFailures is negative (%d)", ErrInvalidOptions, o.MaxFailures)
	}
	if err := b.Validate(); err != nil {
		return c, fmt.Errorf("%w: Backoff: %w", ErrInvalidOptions, err)
	}
	if c.StableAfter == 0 {
		c.StableAfter = DefaultStableAfter
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case c.Heartbeat == 0:
		c.Heartbeat = DefaultHeartbeat
		c.pings = true
	case c.Heartbeat > 0:
		c.pings = true
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = max(c.Heartbeat, 0)
	}
	switch {
	case o.SendBuffer == 0:
		c.sendBuffer = DefaultSendBuffer
	case o.SendBuffer > 0:
		c.sendBuffer = o.SendBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

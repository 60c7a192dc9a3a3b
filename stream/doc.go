// Package stream keeps a message stream connected: a Client dials through any
// transport, hands every message to a handler in order, and redials with
// jittered backoff when the connection fails, until its context ends.
//
// Create a [Client] with [New] on a transport's [Dialer], then call
// [Client.Run]; [Client.Send] writes from any goroutine:
//
//	d := &websocket.Dialer{URL: "wss://example.com/feed"} // or &sse.Dialer{...}
//	c, err := stream.New(d, stream.Options[websocket.Message]{
//		OnConnect: func(ctx context.Context, s stream.Sender[websocket.Message]) error {
//			return s.Send(ctx, websocket.Message{Data: []byte(`{"subscribe":"ABC"}`)})
//		},
//	})
//	if err != nil {
//		return err
//	}
//	return c.Run(ctx, func(ctx context.Context, m websocket.Message) error {
//		return handle(ctx, m.Data) // in order, one message at a time
//	})
//
// A transport implements [Conn] (Read, Write, Close, and optionally [Pinger],
// [ForceCloser] and [ActivityReporter]) and [Dialer];
// [github.com/sluicego/sluice/stream/websocket] and
// [github.com/sluicego/sluice/stream/sse] are two. The Client adds, on top
// of any of them:
//
//   - Reconnection with [retry.Backoff] delays that reset only after a
//     connection stayed up for [Options.StableAfter], so a server that accepts
//     and drops at once sees the delays grow rather than a reconnect storm.
//     A [retry.After] hint on a Read or Dial error is honoured as a minimum
//     delay; a [retry.Permanent] dial error ends Run. [Options.MaxFailures] bounds
//     consecutive failures.
//   - Exactly one connection at a time, read on Run's goroutine (see The run
//     loop below).
//   - Liveness: a ping every [Options.Heartbeat] on Conns that implement
//     Pinger, closed as dead after [Options.PingTimeout] without an answer,
//     and [Options.IdleTimeout] without any arrival; a dead connection is
//     closed at once ([ForceCloser.CloseNow]) on Conns that implement
//     ForceCloser. On Conns that implement ActivityReporter every byte
//     received counts as an arrival (keep-alive comments, control frames,
//     parts of a message), and a ping during which bytes arrived is not held
//     against the peer. A ping is a timeout only once its deadline passed,
//     by the clock; a ping that failed earlier because the connection was
//     closing is not, and the reason that ended the connection (a close
//     frame, a read error) is the one reported. Time spent in the handler
//     never counts against the peer (see The run loop below).
//   - Send: writes are serialised, whoever calls Send, so [Conn.Write] never
//     runs concurrently. While disconnected, up to [Options.SendBuffer]
//     messages are queued and written in order after the next
//     [Options.OnConnect]; beyond that Send fails with [ErrSendBufferFull].
//     [Options.SendMaxAge] drops queued messages that became stale. A
//     message the Conn refuses ([ErrInvalidMessage]) fails Send, or is
//     dropped from the buffer, and leaves the connection up. Nothing is
//     dropped silently: drops are counted in [Stats.Dropped] and logged.
//   - Observability: [Options.OnState] receives every state change
//     (connecting, connected, disconnected with the reason and next delay,
//     closed), [Client.Stats] returns counters, [Options.Logger] logs events.
//
// # The run loop
//
// [Client.Run] dials, runs OnConnect and flushes the send buffer. Then, on
// Run's goroutine, it reads a message, calls the handler with it (and Run's
// ctx), and reads the next one only once the handler has returned: the
// handler sees the messages in the order received, one at a time. Nothing is
// read ahead and nothing read is dropped: each message Read returned has been
// handed to the handler when Run reconnects or returns.
//
// When the connection fails (a Read or Write error, an unanswered ping,
// IdleTimeout), Run closes it, at once with CloseNow on a ForceCloser when
// the peer is deemed dead, waits the backoff delay (at least a
// [retry.After] hint on the error, capped by Backoff.MaxHint) and dials
// again. There is never more than one connection: the old one is closed,
// and its goroutines have exited, before the next dial. When liveness checks
// are on, each connection has one watchdog goroutine and, while a ping is in
// flight, the goroutine that waits for its answer; both have exited before
// the next dial and before Run returns.
//
// While the handler runs, the connection is not read (what arrives waits in
// the transport's buffers, so pongs cannot be seen) and liveness checks
// pause: no ping is sent, and neither PingTimeout nor IdleTimeout can
// expire. When the handler returns, the liveness clock restarts from zero.
// A slow consumer is therefore never disconnected as dead; a dead peer is
// detected within Heartbeat + PingTimeout, or IdleTimeout, of the handler
// returning.
//
// # Contexts
//
// The ctx passed to [Dialer.Dial] stays live until that connection is torn
// down, so a transport may tie the connection's lifetime to it, as an HTTP
// request body is tied to its request's context. It ends earlier only if
// Run's ctx ends or [Options.ConnectTimeout] passes before the connection is
// up. Once it is up, the end of Run's ctx first closes the connection
// ([Conn.Close]; transports bound the graceful close, then force it), which
// ends a Read in progress, and then ends the Dial ctx; this happens also
// while the handler runs. Every goroutine the Client started then stops, Run
// returns ctx.Err(), and nothing reconnects after Run returns.
//
// The reason each connection or attempt ended is reported to OnState and in
// [Stats.LastError]. It matches [context.Canceled] or
// [context.DeadlineExceeded] ([errors.Is]) only when Run's own context
// ended: whatever the transport returned, that match is removed while ctx is
// live (the message, other matches, retry.Permanent and retry.After are
// kept). [ErrPingTimeout], [ErrIdleTimeout], [ErrConnectTimeout] and a
// transport's own timeouts therefore never match, so code that recognises
// its shutdown by its context error cannot mistake a dead peer for it.
package stream

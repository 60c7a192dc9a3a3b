// Package stream keeps a message stream connected: a [Client] dials through any
// transport, hands every message to a handler in order, and redials with
// jittered backoff when the connection fails, until its context ends.
//
// A transport implements [Conn] (Read, Write, Close, and optionally [Pinger] and
// [ForceCloser]) and [Dialer]; stream/websocket and stream/sse are two. The Client adds, on top of
// any of them:
//
//   - Reconnection with [retry.Backoff] delays that reset only after a
//     connection stayed up for [Options.StableAfter], so a server that accepts
//     and drops at once sees the delays grow rather than a reconnect storm.
//     A [retry.After] hint on a Read or Dial error is honoured as a minimum
//     delay; a [retry.Permanent] dial error ends Run. [Options.MaxFailures] bounds
//     consecutive failures.
//   - Exactly one connection at a time, read on Run's goroutine: Run reads
//     a message, calls the handler with it, and reads the next one once the
//     handler has returned, so nothing is read ahead and nothing read is
//     dropped. When liveness checks are on, each connection also has one
//     watchdog goroutine and, while a ping is in flight, the goroutine that
//     waits for its answer; both have exited before the next dial and
//     before Run returns.
//   - Liveness: a ping every [Options.Heartbeat] on Conns that implement
//     Pinger, closed as dead after [Options.PingTimeout] without an answer,
//     and [Options.IdleTimeout] without any arrival; a dead connection is
//     closed at once (CloseNow) on Conns that implement ForceCloser. On
//     Conns that implement [ActivityReporter] every byte received counts as
//     an arrival (keep-alive comments, control frames, parts of a message),
//     and a ping during which bytes arrived is not held against the peer. A
//     ping is a timeout only once its deadline passed, by the clock; a ping
//     that failed earlier because the connection was closing is not, and
//     the reason that ended the connection (a close frame, a read error) is
//     the one reported. Time the application
//     spends in its handler does not count against the peer: while the
//     handler runs, the connection is not read (so pongs cannot be seen),
//     and liveness checks pause; the liveness clock restarts from zero when
//     the handler returns. A slow consumer is therefore never disconnected
//     as dead; a dead peer is detected within Heartbeat + PingTimeout (or
//     IdleTimeout) of the handler being idle.
//   - Send: writes are serialised, whoever calls Send, so [Conn.Write] never
//     runs concurrently. While disconnected, up to [Options.SendBuffer]
//     messages are queued and written in order after the next OnConnect;
//     beyond that Send fails with [ErrSendBufferFull]. [Options.SendMaxAge] drops
//     queued messages that became stale. A message the Conn refuses
//     ([ErrInvalidMessage]) fails Send, or is dropped from the buffer, and
//     leaves the connection up. Nothing is dropped silently: drops
//     are counted in [Stats.Dropped] and logged.
//   - Observability: [Options.OnState] receives every state change
//     (connecting, connected, disconnected with the reason and next delay,
//     closed), [Client.Stats] returns counters, [Options.Logger] logs events.
//
// A disconnect reason matches context.Canceled or context.DeadlineExceeded
// (errors.Is) only when Run's own context ended: [ErrPingTimeout],
// [ErrIdleTimeout], [ErrConnectTimeout] and a transport's own timeouts never do,
// so code that recognises its shutdown by its context error cannot mistake a
// dead peer for it.
//
// Cancelling Run's context closes the connection (transports bound the
// graceful close, then force it), stops every goroutine the Client started
// and makes Run return ctx.Err(); nothing reconnects after Run returns.
package stream

// Package stream keeps a message stream connected: a Client dials through any
// transport, hands every message to a handler in order, and redials with
// jittered backoff when the connection fails, until its context ends.
//
// A transport implements Conn (Read, Write, Close, and optionally Pinger) and
// Dialer; stream/websocket and stream/sse are two. The Client adds, on top of
// any of them:
//
//   - Reconnection with retry.Backoff delays that reset only after a
//     connection stayed up for Options.StableAfter, so a server that accepts
//     and drops at once sees the delays grow rather than a reconnect storm.
//     A retry.After hint on a Read or Dial error is honoured as a minimum
//     delay; a retry.Permanent dial error ends Run. Options.MaxAttempts bounds
//     consecutive failures.
//   - Exactly one connection at a time. Each connection has one reader
//     goroutine, which reads ahead into a small bounded channel, and, when
//     liveness checks are on, one watchdog goroutine. Both have exited before
//     the next dial and before Run returns.
//   - Liveness: a ping every Options.Heartbeat on Conns that implement
//     Pinger, closed as dead after Options.PingTimeout without an answer,
//     and Options.IdleTimeout without any arrival. Time the application spends
//     in its handler does not count against the peer: while the handler runs,
//     or the reader waits for it with the read-ahead channel full (and so
//     cannot process pongs), the liveness clock is suspended, and it restarts
//     from zero when the handler returns. A slow consumer is therefore never
//     disconnected as dead; a dead peer is detected within Heartbeat +
//     PingTimeout (or IdleTimeout) of the handler being idle.
//   - Send: writes are serialised, whoever calls Send, so Conn.Write never
//     runs concurrently. While disconnected, up to Options.SendBuffer
//     messages are queued and written in order after the next OnConnect;
//     beyond that Send fails with ErrSendBufferFull. Options.SendMaxAge drops
//     queued messages that became stale. Nothing is dropped silently: drops
//     are counted in Stats.Dropped and logged.
//   - Observability: Options.OnState receives every state change
//     (connecting, connected, disconnected with the reason and next delay,
//     closed), Stats returns counters, Options.Logger logs events.
//
// Cancelling Run's context closes the connection (transports bound the
// graceful close, then force it), stops every goroutine the Client started
// and makes Run return ctx.Err(); nothing reconnects after Run returns.
package stream

// Package websocket is the WebSocket transport of package stream, built on
// github.com/coder/websocket.
//
// A [Dialer] opens connections whose messages are [Message] values, for a
// [stream.Client] that reconnects, re-subscribes and checks liveness:
//
//	d := &websocket.Dialer{URL: "wss://example.com/feed"}
//	c, err := stream.New(d, stream.Options[websocket.Message]{Heartbeat: 15 * time.Second})
//	if err != nil {
//		return err
//	}
//	return c.Run(ctx, func(ctx context.Context, m websocket.Message) error {
//		return handle(ctx, m.Data) // called in order, one message at a time
//	})
//
// A [Conn] can also be used on its own. It reads whole messages up to the
// [Dialer.ReadLimit] (1 MiB by default; a larger message is an error matching
// [ErrMessageTooBig] and ends the connection), writes text or binary
// messages, answers Ping with a WebSocket ping (the pong is only seen while a
// Read is in progress, which a Client has whenever its handler is not
// running; it pauses its pings while the handler runs), and closes within the
// [Dialer.CloseTimeout]: it sends a close frame, waits for the peer's answer
// for at most CloseTimeout, then closes the TCP connection. [Conn] implements
// [stream.ActivityReporter]: every byte read from the network (frames,
// control frames such as the server's pings or the client's pongs, parts of
// a frame) counts as a sign of life for [stream.Options.IdleTimeout] and pings,
// where the Dialer's transport lets it see them (see [Conn.LastActivity]).
//
// Handshake failures are classified for the Client's retry loop: 408, 425,
// 429, 500, 502, 503 and 504 are retryable, as fetch retries them, and so are
// network errors; their Retry-After header becomes a [retry.After] hint. Any
// other answer (a 4xx refusal, a 501 or 505, or a 2xx/3xx page that is no
// WebSocket endpoint) is a [*HandshakeError] marked [retry.Permanent], so Run
// stops instead of hammering a server that refuses the client. A handshake that
// outlasts HandshakeTimeout is [ErrHandshakeTimeout]; it does not match
// context.DeadlineExceeded, which is kept for the end of the caller's context.
package websocket

// Package sse is the server-sent events (EventSource) transport of package
// stream, on net/http alone.
//
// A [Dialer] opens the stream and a [stream.Client] keeps it open:
//
//	d := &sse.Dialer{URL: "https://example.com/events", LastEventID: saved}
//	c, err := stream.New(d, stream.Options[sse.Event]{IdleTimeout: time.Minute})
//	if err != nil {
//		return err
//	}
//	return c.Run(ctx, func(ctx context.Context, ev sse.Event) error {
//		return handle(ctx, ev.ID, ev.Data) // save ev.ID once handled, to resume from it
//	})
//
// The Dialer behaves as a browser's EventSource does, with these guarantees:
//
//   - Resumption: every connection sends Last-Event-ID, the latest id the
//     stream set, or [Dialer.LastEventID] while it set none. The caller's
//     ID is never dropped on a retry. To resume across restarts, save the
//     ID of the last [Event] the handler processed (not [Dialer.ResumeID],
//     which may be ahead of the handler) and pass it as LastEventID.
//   - The server's retry field is a minimum reconnection delay: the error
//     that ends a connection carries it as a [retry.After] hint, which the
//     Client honours (capped by its Backoff.MaxHint).
//   - Statuses: 200 with Content-Type text/event-stream is the stream; 204 No
//     Content means the server asks the client to stop, and ends Run with
//     [ErrNoContent]; 408, 425, 429, 500, 502, 503 and 504 are retried
//     (Retry-After honoured), as fetch retries them; any other status, 501
//     and 505 included, is a permanent [*StatusError], and a wrong
//     Content-Type a permanent [ErrContentType].
//   - Bounded memory: a line or an event larger than [Dialer.MaxEventBytes]
//     (1 MiB by default) ends the connection with [ErrEventTooLarge].
//
// The stream is one-way: [Conn.Write] returns [ErrReadOnly], which matches
// [stream.ErrInvalidMessage], so a Client's Send returns it while connected
// (a message queued while disconnected is dropped at flush and counted in
// [stream.Stats.Dropped]); the connection stays up. There is no ping
// either: detect a dead server with [stream.Options.IdleTimeout], set above
// the interval of the server's keep-alive comments. [Conn] implements
// [stream.ActivityReporter]: every byte of the body counts as a sign of life
// (comments, field lines, parts of an event), so keep-alive comments keep a
// quiet stream connected, and a server is deemed dead IdleTimeout after the
// last byte it sent. Requests send Accept: text/event-stream and
// Cache-Control: no-cache, as an EventSource does.
//
// The parser is exported as [Decoder] for text/event-stream bodies obtained
// otherwise.
package sse

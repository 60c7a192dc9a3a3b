package sse

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/activity"
	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

var _ stream.Dialer[Event] = (*Dialer)(nil)

// Dialer opens server-sent events streams from one URL and carries the
// stream's position, the last event ID, from each connection to the next, as
// an EventSource does. Set its fields before the first Dial and do not change
// or copy it afterwards.
//
// A Dialer follows one stream: give each Client its own Dialer. Dial is safe
// for concurrent use, but concurrent connections would overwrite each other's
// last event ID.
type Dialer struct {
	// URL is the http:// or https:// address of the stream.
	URL string

	// Client sends the requests. Nil means a client with no overall Timeout
	// (a Client.Timeout would cut every stream after that long) but with a
	// 10s dial timeout, a 10s TLS handshake timeout and a 30s response header
	// timeout; it speaks HTTP/1.1 and keeps no idle connections, so nothing
	// of it outlives the stream's connection. A Client given here should
	// have no Timeout either.
	Client *http.Client

	// Header is sent with every request. Accept (text/event-stream),
	// Cache-Control (no-cache) and Last-Event-ID are set by the Dialer, as an
	// EventSource sets them.
	Header http.Header

	// LastEventID is the position to resume from on the first connection,
	// sent as the Last-Event-ID header. Later connections send the last
	// event ID of the stream so far (see ResumeID): the latest id field read,
	// or this value while the stream carried none.
	LastEventID string

	// MaxEventBytes bounds a line and an event's data; a larger one ends the
	// connection with ErrEventTooLarge. Zero means DefaultMaxEventBytes (1 MiB).
	MaxEventBytes int

	once   sync.Once
	client *http.Client

	mu     sync.Mutex
	seeded bool
	lastID string
	retry  time.Duration
}

func (d *Dialer) init() {
	d.once.Do(func() {
		d.client = d.Client
		if d.client == nil {
			d.client = defaultClient()
		}
	})
}

// defaultClient is the client of every Dialer without its own: one
// transport for all of them (the module's dial, TLS and header timeouts),
// so that thousands of Dialers don't hold thousands of transports. It keeps
// no idle connection: an event stream's connection is never handed back.
var defaultClient = sync.OnceValue(func() *http.Client {
	t := httpx.NewTransport()
	t.MaxIdleConnsPerHost = -1
	return &http.Client{Transport: t}
})

// ResumeID returns the last event ID the next connection will send as
// Last-Event-ID: LastEventID until the stream set one with an id field.
//
// ResumeID follows what Conn.Read returned, not what a handler processed: a
// stream.Client reads each event before its handler runs, so when Run ends
// in a handler call (the handler's error, or its ctx ending) ResumeID
// already includes that event. To save the position across restarts, keep
// the ID of the last Event the handler processed and pass it as the next
// Dialer's LastEventID.
func (d *Dialer) ResumeID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seedLocked()
	return d.lastID
}

// RetryDelay returns the reconnection delay the server asked for with the
// latest retry field, or zero.
func (d *Dialer) RetryDelay() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.retry
}

func (d *Dialer) seedLocked() {
	if !d.seeded {
		d.seeded = true
		d.lastID = d.LastEventID
	}
}

func (d *Dialer) state() (string, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seedLocked()
	return d.lastID, d.retry
}

func (d *Dialer) setState(id string, retry time.Duration) {
	d.mu.Lock()
	d.lastID, d.retry = id, retry
	d.mu.Unlock()
}

// Dial sends the request and returns the stream once the server answered
// 200 with a text/event-stream body. It blocks until the response headers
// arrived or ctx ended; ctx bounds only that, not the stream.
//
// Dial returns, for the stream.Client's retry loop:
//   - ErrNoContent, marked retry.Permanent, for 204: the server asks to stop;
//   - a *StatusError for other statuses, marked retry.Permanent unless
//     [StatusError.Retryable]; a retryable one carries the Retry-After
//     wait, if the answer has one, as a retry.After hint;
//   - ErrContentType, marked retry.Permanent, for a 200 that is not
//     text/event-stream;
//   - network errors unmarked (retryable), and ctx's error if ctx ended.
//
// Retryable errors carry a retry.After hint of at least the delay the server
// set with a retry field on an earlier connection.
func (d *Dialer) Dial(ctx context.Context) (stream.Conn[Event], error) {
	c, err := d.DialConn(ctx)
	if err != nil {
		return nil, err // not a nil *Conn in a non-nil interface
	}
	return c, nil
}

// DialConn is Dial returning the concrete *Conn.
func (d *Dialer) DialConn(ctx context.Context) (*Conn, error) {
	d.init()
	lastID, retryDelay := d.state()

	// The request outlives Dial: its context keeps ctx's values but not its
	// cancellation, which applies only until the response headers arrive.
	reqCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, d.URL, nil)
	if err != nil {
		cancel()
		return nil, retry.Permanent(fmt.Errorf("sse: %w", err))
	}
	for k, v := range d.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache") // as EventSource sends
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	} else {
		req.Header.Del("Last-Event-ID")
	}

	stop := context.AfterFunc(ctx, cancel)
	resp, err := d.client.Do(req)
	if !stop() {
		// ctx ended: the request is being cancelled.
		if resp != nil {
			resp.Body.Close()
		}
		cancel()
		return nil, fmt.Errorf("sse: dial %s: %w", d.URL, context.Cause(ctx))
	}
	if err != nil {
		cancel()
		// ctx is live: a timeout inside the client (dial, TLS, response
		// header) must not pass for the end of ctx.
		return nil, withRetry(ctxerr.Hide(fmt.Errorf("sse: dial: %w", err)), retryDelay)
	}
	if err := checkResponse(resp); err != nil {
		resp.Body.Close()
		cancel()
		if !retry.IsPermanent(err) {
			err = withRetry(err, retryDelay)
		}
		return nil, err
	}

	clock := activity.New()
	clock.Touch() // the response header arrived
	dec := NewDecoder(&activity.Reader{R: resp.Body, Clock: clock}, d.MaxEventBytes)
	dec.Seed(lastID, retryDelay)
	return &Conn{d: d, body: resp.Body, cancel: cancel, dec: dec, activity: clock}, nil
}

// checkResponse classifies the response; on error the caller closes the body.
func checkResponse(resp *http.Response) error {
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return retry.Permanent(ErrNoContent)
	case resp.StatusCode != http.StatusOK:
		se := &StatusError{Status: resp.StatusCode, Header: resp.Header, Body: httpx.Snippet(resp.Body)}
		if !se.Retryable() {
			return retry.Permanent(se)
		}
		return httpx.WithRetryAfter(se, resp.StatusCode, resp.Header)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "text/event-stream" {
		return retry.Permanent(fmt.Errorf("%w: Content-Type %q", ErrContentType, ct))
	}
	return nil
}

// withRetry adds a retry.After hint of at least d to a retryable error.
func withRetry(err error, d time.Duration) error {
	if d <= 0 {
		return err
	}
	if h, ok := retry.Hint(err); ok && h >= d {
		return err
	}
	return retry.After(err, d)
}

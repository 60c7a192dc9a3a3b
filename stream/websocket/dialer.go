package websocket

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

// Defaults used for zero fields of a Dialer.
const (
	DefaultReadLimit        = 1 << 20 // 1 MiB
	DefaultCloseTimeout     = 2 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

var _ stream.Dialer[Message] = (*Dialer)(nil)

// Dialer opens WebSocket connections to one URL. Set its fields before the
// first Dial and do not change or copy it afterwards; Dial is safe for
// concurrent use.
type Dialer struct {
	// URL is the address to dial: ws://, wss://, http:// or https://.
	URL string

	// Header is sent with every handshake request (Authorization, Origin...).
	Header http.Header

	// Subprotocols are offered to the server, in order of preference.
	Subprotocols []string

	// HTTPClient performs the handshake. Nil means a client with a 10s dial
	// timeout, a 10s TLS handshake timeout and a 30s response header timeout.
	// If its Transport is an *http.Transport (or nil), the Dialer uses a copy
	// whose dials it records, so that Close can force the TCP connection shut;
	// with any other RoundTripper, Close may take up to about 10s when the
	// peer ignores the close frame.
	HTTPClient *http.Client

	// ReadLimit is the size in bytes of the largest message Read accepts.
	// Zero or negative means DefaultReadLimit (1 MiB). There is no unlimited
	// setting: a peer must not be able to make the client allocate at will.
	ReadLimit int64

	// CloseTimeout bounds the close handshake in Close: after sending the
	// close frame, Close waits at most this long for the peer's answer, then
	// closes the TCP connection. Zero means DefaultCloseTimeout (2s).
	CloseTimeout time.Duration

	// HandshakeTimeout bounds Dial, from the TCP dial to the server's 101
	// answer, in addition to Dial's context; when it passes, Dial returns an
	// error matching ErrHandshakeTimeout (and no context error). Zero means
	// DefaultHandshakeTimeout (10s).
	HandshakeTimeout time.Duration

	once      sync.Once
	client    *http.Client
	forceable bool
}

// Dial performs the opening handshake and returns the connection. It blocks
// until the server answered, ctx ended or HandshakeTimeout passed; ctx bounds
// only the handshake, not the connection's life.
//
// A refusal is a *HandshakeError, wrapped with retry.Permanent unless the
// status is transient (see [HandshakeError.Retryable]), and a transient one
// with retry.After when the answer carries a Retry-After header. Network errors are returned
// wrapped, unmarked (retryable), and so is ErrHandshakeTimeout. The error
// matches a context error only if ctx ended, and then ctx.Err().
func (d *Dialer) Dial(ctx context.Context) (stream.Conn[Message], error) {
	c, err := d.DialConn(ctx)
	if err != nil {
		return nil, err // not a nil *Conn in a non-nil interface
	}
	return c, nil
}

// DialConn is Dial returning the concrete *Conn.
func (d *Dialer) DialConn(ctx context.Context) (*Conn, error) {
	d.once.Do(func() { d.client, d.forceable = handshakeClient(d.HTTPClient) })

	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hdeadline, _ := hctx.Deadline()
	slot := new(netConnSlot)
	hctx = context.WithValue(hctx, netConnSlotKey{}, slot)

	ws, resp, err := websocket.Dial(hctx, d.URL, &websocket.DialOptions{
		HTTPClient:   d.client,
		HTTPHeader:   d.Header,
		Subprotocols: d.Subprotocols,
	})
	if err != nil {
		slot.close() // a refused handshake may leave the TCP connection open
		return nil, d.dialError(ctx, hdeadline, timeout, resp, err)
	}

	limit := d.ReadLimit
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	ws.SetReadLimit(limit)
	closeTimeout := d.CloseTimeout
	if closeTimeout <= 0 {
		closeTimeout = DefaultCloseTimeout
	}
	c := &Conn{ws: ws, closeTimeout: closeTimeout}
	if d.forceable {
		c.netConn = slot
		c.activity = slot.activity()
	}
	return c, nil
}

// dialError classifies a failed handshake. Only the end of ctx, the
// caller's, makes the error match a context error: a handshake that ran out
// of HandshakeTimeout (its deadline, hdeadline, passed by the clock) is
// ErrHandshakeTimeout, and a timeout inside the HTTP client a plain network
// error.
func (d *Dialer) dialError(ctx context.Context, hdeadline time.Time, timeout time.Duration, resp *http.Response, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("websocket: dial %s: %w", d.URL, errors.Join(ctx.Err(), err))
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		// The caller's deadline passed, though its timer has not fired yet.
		return fmt.Errorf("websocket: dial %s: %w", d.URL, errors.Join(context.DeadlineExceeded, err))
	}
	if !time.Now().Before(hdeadline) {
		return ctxerr.Hide(fmt.Errorf("websocket: dial %s: %w after %v: %w", d.URL, ErrHandshakeTimeout, timeout, err))
	}
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return ctxerr.Hide(fmt.Errorf("websocket: dial %s: %w", d.URL, err))
	}
	he := &HandshakeError{Status: resp.StatusCode, Header: resp.Header, Err: err}
	if !he.Retryable() {
		return retry.Permanent(he)
	}
	return httpx.WithRetryAfter(he, resp.StatusCode, resp.Header)
}

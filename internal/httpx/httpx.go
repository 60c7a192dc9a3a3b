// Package httpx holds the HTTP rules that fetch, stream/sse and
// stream/websocket must decide identically: which statuses are transient,
// when a Retry-After header counts, how much of a failed response's body is
// kept, and the default dial, TLS and response-header timeouts.
package httpx

import (
	"io"
	"net"
	"net/http"
	"time"

	"github.com/sluicego/sluice/retry"
)

// RetryableStatus reports whether a response status is transient, worth
// another request or another connection after a backoff. The retryable
// statuses are exactly 408 Request Timeout, 425 Too Early, 429 Too Many
// Requests, 500 Internal Server Error, 502 Bad Gateway, 503 Service
// Unavailable and 504 Gateway Timeout; this is the one place the list is
// decided, for fetch's retries and for the reconnections of stream/sse and
// stream/websocket alike. Every other status is permanent: another 4xx
// refuses the request as it stands, and 501 Not Implemented, 505 HTTP
// Version Not Supported and the other 5xx will answer the same again.
// What counts as success (2xx for fetch, 200 for sse, 101 for websocket) is
// each caller's to decide before asking.
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// WithRetryAfter applies the rule for Retry-After: it counts for every
// retryable status (see [RetryableStatus]) and for no other. When status is
// retryable and h carries a Retry-After in any form [retry.ParseRetryAfter]
// accepts, err comes back marked with [retry.After] and that wait; otherwise
// err comes back unchanged. The wait is not capped here: the retry policy's
// MaxHint caps it where it is waited out (retry.Do, fetch, stream.Client).
func WithRetryAfter(err error, status int, h http.Header) error {
	if !RetryableStatus(status) {
		return err
	}
	v := h.Get("Retry-After")
	if v == "" {
		return err
	}
	if d, ok := retry.ParseRetryAfter(v, time.Now()); ok {
		return retry.After(err, d)
	}
	return err
}

// SnippetBytes is how much of a failed response's body an error keeps.
const SnippetBytes = 512

// Snippet reads the start of a failed response's body, at most
// SnippetBytes, to help diagnose the failure. The caller drains and closes
// the body. A read error ends the snippet early.
func Snippet(body io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(body, SnippetBytes))
	return b
}

// The default timeouts of every transport the module builds when the caller
// gives no *http.Client: a TCP dial gives up after DialTimeout (with TCP
// keep-alives every KeepAlive), a TLS handshake after TLSHandshakeTimeout,
// and the wait for a response's header after ResponseHeaderTimeout. None of
// them bounds a response's body, so a long stream is never cut by them.
const (
	DialTimeout           = 10 * time.Second
	KeepAlive             = 30 * time.Second
	TLSHandshakeTimeout   = 10 * time.Second
	ResponseHeaderTimeout = 30 * time.Second
)

// NewDialer returns a dialer with DialTimeout and KeepAlive.
func NewDialer() *net.Dialer {
	return &net.Dialer{Timeout: DialTimeout, KeepAlive: KeepAlive}
}

// NewTransport returns a new transport with the default timeouts, the
// proxy from the environment and net/http's defaults otherwise. Each caller
// sets its own pooling (and fetch its own ResponseHeaderTimeout).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           NewDialer().DialContext,
		TLSHandshakeTimeout:   TLSHandshakeTimeout,
		ResponseHeaderTimeout: ResponseHeaderTimeout,
	}
}

package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/sluicego/sluice/internal/httpx"
)

// attemptError turns an error of client.Do or of reading the body into the
// attempt's error: [ErrAttemptTimeout] when the attempt's own deadline passed,
// or a transport timeout fired, while the caller's context is still live.
func (f *Fetcher) attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var ne net.Error
	if errors.Is(actx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, f.cfg.AttemptTimeout, err)
	}
	return err
}

// statusError drains and closes a non-2xx response and returns its
// [*StatusError], marked with the Retry-After wait if the status is
// retryable and the header has one (httpx.WithRetryAfter decides).
func (f *Fetcher) statusError(req *http.Request, resp *http.Response) error {
	snippet := httpx.Snippet(resp.Body)
	drainAndClose(resp.Body)
	se := &StatusError{Method: methodOf(req), URL: req.URL.Redacted(), Status: resp.StatusCode, Body: snippet}
	return httpx.WithRetryAfter(se, resp.StatusCode, resp.Header)
}

// heldStatusError returns nil for a 2xx or a redirect (3xx with a
// Location), else resp's [*StatusError], marked with its Retry-After wait as
// statusError does, but without reading the body: the body goes to the
// caller of the Transport, so the error has no Body snippet.
func heldStatusError(req *http.Request, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 ||
		isRedirect(resp.StatusCode) && resp.Header.Get("Location") != "" {
		return nil
	}
	se := &StatusError{Method: methodOf(req), URL: req.URL.Redacted(), Status: resp.StatusCode}
	return httpx.WithRetryAfter(se, resp.StatusCode, resp.Header)
}

func methodOf(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// transient reports whether an attempt's error is worth another attempt.
func transient(err error) bool {
	if errors.Is(err, errGetBody) || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrRedirect) ||
		errors.Is(err, ErrDisallowed) || errors.Is(err, ErrRobotsUnavailable) || errors.Is(err, ErrInvalidRequest) ||
		errors.Is(err, ErrForbiddenAddress) || errors.Is(err, ErrHostUnavailable) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return httpx.RetryableStatus(se.Status)
	}
	if errors.Is(err, ErrAttemptTimeout) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		// "no such host" stays so; a DNS timeout or SERVFAIL may not.
		return dns.IsTimeout || dns.IsTemporary
	}
	return isNetworkError(err)
}

// isNetworkError reports whether err is a failure of the connection:
// refused, reset, broken, closed early, or timed out.
func isNetworkError(err error) bool {
	if errors.Is(err, ErrAttemptTimeout) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a connection closed before the response as a plain
	// error; match its wording as the last resort.
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed") ||
		strings.Contains(msg, "broken pipe")
}

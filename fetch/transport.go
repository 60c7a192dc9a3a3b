package fetch

import (
	"context"
	"net/http"
)

// mode is how a request's final response is handed over.
type mode uint8

const (
	// buffered: the body is read into Result.Body and closed (Do, Get,
	// batches).
	buffered mode = iota
	// opened: a 2xx response is held: returned unread, its body a heldBody
	// owning the attempt's slots. Redirects are followed and other
	// statuses are errors, as in buffered (Open).
	opened
	// transported: every final response is held, redirects included, and
	// a non-2xx status is an error only for the retry loop and the Result
	// (the Transport's RoundTrip).
	transported
)

// Open sends req like [Fetcher.Do], with the same waits, caps, retries,
// robots.txt rules and redirects, but does not read the body of the final
// 2xx response: it returns the response with a Body that streams from the
// network, for bodies too large to hold in memory. The error, when not
// nil, is the one [Result.Err] would hold (a non-2xx final status is a
// [*StatusError], its body already drained and closed, and the response
// is nil); classify it with Result{Err: err}.Outcome().
//
// The returned response keeps its host's slot and a global slot until its
// Body is closed or a Read returns an error (io.EOF at the end), whichever
// comes first; the caller must close it, as with net/http. A Body never
// closed nor read to the end keeps
// its slots until the attempt's context ends: [Options.AttemptTimeout]
// after the request was sent, or earlier if ctx or req's context ends
// (which also fails the Body's Reads). There is no finalizer. So
// AttemptTimeout bounds the whole read: raise it for long downloads.
//
// Reading past [Options.MaxBodyBytes] fails with [ErrBodyTooLarge] (after
// the bytes up to the limit), and a Content-Length over it fails Open
// itself. Close does not drain the body: read it to io.EOF for its
// connection to be reused.
//
// Stats and [Options.OnResult] count the request when Open returns, with
// Result.Body nil; an error while reading the Body is the caller's to see.
func (f *Fetcher) Open(ctx context.Context, req *http.Request) (*http.Response, error) {
	res, resp := f.do(ctx, req, opened)
	if resp == nil {
		return nil, res.Err
	}
	return resp, nil
}

// Transport returns an [http.RoundTripper] that sends each request through
// f: any [http.Client] using it gets f's global and per-host caps, per-host
// rate, robots.txt rules, retries and Retry-After handling, and counts in
// f's Stats and OnResult. Unlike [Fetcher.Do], RoundTrip:
//
//   - Does not follow redirects: it returns the 3xx response, as a
//     RoundTripper must, and the http.Client follows it (under its
//     CheckRedirect) with another RoundTrip, which waits for the next host's
//     slot, rate and robots.txt verdict like a first request.
//   - Returns every other final response too, with a nil error, whatever
//     its status, as net/http does: a 404 is a response, not an error
//     (Stats still count it as a status error). A retryable status (408,
//     425, 429, 500, 502, 503, 504) is retried first when the request is
//     safe to repeat (see [Fetcher.Do]; net/http's Client sets GetBody for
//     the common body types), honouring Retry-After; the body of each
//     response retried is drained and closed before the backoff. When the
//     retries run out, the last response is returned.
//   - Ends when the request's context ends; it does not modify the request
//     and closes its body, as RoundTrip must.
//   - Returns an error only when no response is to be returned: a network
//     error or attempt timeout after the retries, [ErrDisallowed],
//     [ErrRobotsUnavailable], [ErrInvalidRequest], [ErrForbiddenAddress],
//     [ErrHostUnavailable], [ErrBodyTooLarge] from a Content-Length over
//     [Options.MaxBodyBytes], or the context's error. When a retry cannot
//     be sent (the context ended during the backoff, or the host's breaker
//     opened), the error wraps the last response's [*StatusError]; that
//     response's body was already drained and closed.
//
// The response Body is a stream that holds its host's slot and a global
// slot until it is closed or a Read returns an error (io.EOF at the end),
// under the rules of
// [Fetcher.Open] (MaxBodyBytes, AttemptTimeout, no finalizer): close every
// response body, as net/http requires, or its slots stay taken until
// AttemptTimeout has passed. http.Client.Timeout, if set, bounds the whole
// exchange as usual.
//
// The RoundTripper has a CloseIdleConnections method, so
// http.Client.CloseIdleConnections reaches f's.
func (f *Fetcher) Transport() http.RoundTripper { return roundTripper{f} }

// Client returns a new [http.Client] whose Transport is [Fetcher.Transport]:
// net/http's default redirect policy (at most 10), no cookie Jar and no
// Timeout (AttemptTimeout applies per attempt). Callers may set those
// fields on it; it is theirs. This is the drop-in for code that takes an
// *http.Client.
func (f *Fetcher) Client() *http.Client { return &http.Client{Transport: f.Transport()} }

type roundTripper struct{ f *Fetcher }

// RoundTrip implements [http.RoundTripper]; see [Fetcher.Transport].
func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	res, resp := t.f.do(req.Context(), req, transported)
	if res.Attempts == 0 && req != nil && req.Body != nil {
		_ = req.Body.Close() // never handed to the underlying transport
	}
	if resp == nil {
		return nil, res.Err
	}
	resp.Request = req
	return resp, nil
}

// CloseIdleConnections closes the Fetcher's idle connections; see
// [Fetcher.CloseIdleConnections].
func (t roundTripper) CloseIdleConnections() { t.f.CloseIdleConnections() }

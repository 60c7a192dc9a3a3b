package fetch

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors, matched with [errors.Is] against [Result.Err].
var (
	// ErrInvalidOptions is returned (wrapped, naming the field) by New when
	// Options are out of range.
	ErrInvalidOptions = errors.New("fetch: invalid options")

	// ErrBodyTooLarge means the response body was longer than
	// [Options.MaxBodyBytes]. The body is never returned cut short.
	ErrBodyTooLarge = errors.New("fetch: response body exceeds MaxBodyBytes")

	// ErrDisallowed means the host's robots.txt forbids the URL, or the URL
	// of a redirect hop, for our user agent. Nothing was sent to that URL.
	ErrDisallowed = errors.New("fetch: disallowed by robots.txt")

	// ErrRobotsUnavailable means the host's robots.txt could not be fetched
	// (a 5xx or 429 status, a network error or a timeout), so the host is
	// treated as disallowed until [Options.RobotsErrorTTL] passes. Nothing was
	// sent to the URL. The error wraps the cause (a [*StatusError] or the
	// network error). It does not match [ErrDisallowed].
	ErrRobotsUnavailable = errors.New("fetch: robots.txt unavailable")

	// ErrInvalidRequest means the request could not be sent at all: a URL
	// that does not parse, a scheme other than http or https, no host, a
	// port outside 1-65535, an invalid method, or a nil request. Nothing was
	// sent and nothing is retried: [Result.Attempts] is 0.
	ErrInvalidRequest = errors.New("fetch: invalid request")

	// ErrRedirect means a redirect was not followed: more than [MaxRedirects]
	// hops, a Location that is not an http or https URL with a host and a
	// valid port, a 307 or 308 whose request body cannot be sent again (no
	// req.GetBody), or an error returned by the Client's CheckRedirect. The
	// error also wraps the redirect response's [*StatusError], so the Result
	// counts as [OutcomeStatusError] with that response's Status and Header;
	// except for a Location that does not parse at all, which net/http's
	// Client reports without the response (Status 0, [OutcomeOther]).
	// Nothing is retried.
	ErrRedirect = errors.New("fetch: redirect not followed")

	// ErrAttemptTimeout means an attempt ran longer than
	// [Options.AttemptTimeout]. It is a transient failure: the attempt is
	// retried if the request allows it. The caller's own deadline never
	// matches it (that is the context's error).
	ErrAttemptTimeout = errors.New("fetch: attempt timed out")
)

// StatusError is the error of a response whose final status is not 2xx.
// [Result.Status] holds the same code; retrieve the error with [errors.As].
type StatusError struct {
	Method string
	URL    string
	Status int
	// Body holds up to the first 512 bytes of the response body, to help
	// diagnose the failure. The rest of the body is discarded.
	Body []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
}

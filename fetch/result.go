package fetch

import (
	"net/http"
	"time"
)

// Result is the outcome of one request. Exactly one Result is produced for
// every URL or request given to a Fetcher.
type Result struct {
	// Index is the position of the URL in the input of All or Stream
	// (0 for Get and Do).
	Index int
	// URL is the URL as given to Get, All or Stream, or the request's URL
	// for Do.
	URL string
	// FinalURL is the URL of the last response, the one of Status and
	// Header: URL itself unless a redirect was followed, "" if no response
	// arrived.
	FinalURL string
	// Status is the status code of the last response, or 0 if none arrived.
	Status int
	// Header is the header of the last response, or nil.
	Header http.Header
	// Body is the whole body of a 2xx response (never cut short: a body
	// longer than [Options.MaxBodyBytes] is an [ErrBodyTooLarge] error instead).
	// It is nil when Err is set.
	Body []byte
	// Attempts is the number of attempts sent (0 if none was, for example
	// when robots.txt disallows the URL, the request is invalid, or ctx
	// ended while waiting for a slot). The redirect hops an attempt follows
	// are part of it ([Stats.Redirects] counts them).
	Attempts int
	// Duration is the time from the call (for All and Stream, from when
	// the batch took the URL from its input) to the final outcome,
	// including Wait, waits for slots and rate limits before retries, and
	// retry backoffs.
	Duration time.Duration
	// Wait is the part of Duration before the first attempt was sent:
	// waiting in a batch for a free goroutine or for the host's turn,
	// for the host's and the global slot, the rate limit or Crawl-delay,
	// and robots.txt. It is Duration if no attempt was sent.
	// Duration - Wait is the URL's own time: its attempts and backoffs.
	Wait time.Duration
	// Err is nil for a 2xx response whose body was read in full. Otherwise
	// it says why: a [*StatusError] (non-2xx final status), [ErrBodyTooLarge],
	// [ErrDisallowed], [ErrRobotsUnavailable], [ErrInvalidRequest], [ErrRedirect],
	// [ErrAttemptTimeout], [ErrForbiddenAddress], [ErrHostUnavailable], a
	// network error, or the context's
	// error. When retries ran out, or ctx ended during a backoff or while a
	// retry waited for its slot, it is a [*retry.Error] that still wraps the
	// last attempt's error, so [errors.As] finds the *StatusError (and Status
	// and Header are that last response's).
	//
	// An error can match several of these with [errors.Is] and errors.As:
	// like the net package's timeouts, an ErrAttemptTimeout error also
	// matches [context.DeadlineExceeded], and a context that ended during a retry's
	// backoff gives an error matching both the context's error and the last
	// attempt's *StatusError. Use [Result.Outcome] to classify Err into
	// exactly one category (the one [Stats] counts), then errors.As for
	// details.
	Err error
}

// OK reports whether the request succeeded: Err is nil.
func (r Result) OK() bool { return r.Err == nil }

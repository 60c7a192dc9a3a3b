package fetch

import (
	"context"
	"errors"
	"net/http"

	"github.com/sluicego/sluice/limit"
)

// ErrHostUnavailable means the host's circuit breaker ([Options.Breaker])
// is open, or half-open with its probes all out: the request (or redirect
// hop) was not sent, and is not retried. The error also wraps the
// breaker's [*limit.OpenError], so it matches [limit.ErrBreakerOpen] and
// says until when. Its Result is [OutcomeHostUnavailable].
var ErrHostUnavailable = errors.New("fetch: host unavailable (circuit breaker open)")

// reportBreaker reports the outcome err of a hop to its host's breaker
// through permit. Failures are what says the host is in trouble: a network
// error, an attempt timeout, a 5xx or a 429. Any other response is a
// success. A hop that says nothing about the host (the caller's context
// ended, the request could not be prepared, the guard refused the
// address) gives its permit back uncounted.
func reportBreaker(ctx context.Context, permit limit.Permit, err error) {
	if err == nil {
		permit.Done(true)
		return
	}
	var se *StatusError
	switch {
	case errors.As(err, &se):
		permit.Done(se.Status < 500 && se.Status != http.StatusTooManyRequests)
	case errors.Is(err, ErrBodyTooLarge):
		permit.Done(true) // the host answered
	case errors.Is(err, ErrAttemptTimeout):
		permit.Done(false)
	case ctx.Err() != nil || errors.Is(err, ErrForbiddenAddress) || errors.Is(err, errGetBody) ||
		errors.Is(err, ErrRedirect):
		permit.Cancel()
	case isNetworkError(err):
		permit.Done(false)
	default:
		permit.Cancel()
	}
}

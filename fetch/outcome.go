package fetch

import (
	"context"
	"errors"
	"strconv"

	"github.com/sluicego/sluice/retry"
)

// Outcome is the category of a Result, as counted by Stats: every Result has
// exactly one. [Result.Err] can match several sentinels at once (an attempt
// timeout also matches [context.DeadlineExceeded]; a Ctrl+C during a retry's
// backoff matches both [context.Canceled] and the last attempt's [*StatusError]);
// Outcome resolves them in one documented order, see [Result.Outcome].
type Outcome int

// The outcomes, in the order of the matching Stats counters.
const (
	OutcomeOK                Outcome = iota // Err is nil: 2xx with the body read in full (Stats.OK)
	OutcomeStatusError                      // final status not 2xx: a *StatusError (Stats.StatusErrors)
	OutcomeNetworkError                     // connection refused, reset or closed early, and similar (Stats.NetworkErrors)
	OutcomeTimeout                          // ErrAttemptTimeout: the last attempt ran longer than Options.AttemptTimeout (Stats.Timeouts)
	OutcomeTooLarge                         // ErrBodyTooLarge (Stats.TooLarge)
	OutcomeDisallowed                       // ErrDisallowed: robots.txt forbids the URL or a redirect hop's URL (Stats.Disallowed)
	OutcomeCanceled                         // the caller's context ended before the final outcome (Stats.Canceled)
	OutcomeOther                            // anything else, such as a failed GetBody (Stats.OtherErrors)
	OutcomeRobotsUnavailable                // ErrRobotsUnavailable: the host's robots.txt could not be fetched (Stats.RobotsUnavailable)
	OutcomeInvalid                          // ErrInvalidRequest: the request could not be sent at all (Stats.Invalid)
	OutcomeForbidden                        // ErrForbiddenAddress: Options.DenyPrivateNetworks refused the address (Stats.Forbidden)
	OutcomeHostUnavailable                  // ErrHostUnavailable: the host's circuit breaker was open (Stats.HostUnavailable)

	outcomeCount // the number of outcomes
)

var outcomeNames = [...]string{
	OutcomeOK:           "ok",
	OutcomeStatusError:  "status error",
	OutcomeNetworkError: "network error",
	OutcomeTimeout:      "timeout",
	OutcomeTooLarge:     "too large",
	OutcomeDisallowed:   "disallowed",
	OutcomeCanceled:     "canceled",
	OutcomeOther:        "other",

	OutcomeRobotsUnavailable: "robots.txt unavailable",
	OutcomeInvalid:           "invalid request",
	OutcomeForbidden:         "forbidden address",
	OutcomeHostUnavailable:   "host unavailable",
}

// String returns a short lower-case name of o, such as "ok", "timeout",
// "status error" or "robots.txt unavailable".
func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Outcome classifies r exactly as [Fetcher.Stats] counts it. The first rule
// that matches r.Err decides:
//
//  1. nil: OutcomeOK.
//  2. ErrInvalidRequest: OutcomeInvalid.
//  3. ErrForbiddenAddress: OutcomeForbidden, also when refused while
//     fetching robots.txt.
//  4. ErrHostUnavailable: OutcomeHostUnavailable, also for a retry refused
//     by the breaker (the error then wraps the last attempt's error too).
//  5. ErrDisallowed: OutcomeDisallowed.
//  6. ErrRobotsUnavailable: OutcomeRobotsUnavailable, even if it wraps a
//     timeout of the robots.txt fetch.
//  7. The caller's context ended: OutcomeCanceled. That is a *retry.Error
//     whose Reason is context.Canceled or context.DeadlineExceeded (ctx ended
//     during a backoff or while a retry waited for its slot, even though the
//     error also wraps the last attempt's *StatusError or
//     ErrAttemptTimeout), or an error matching context.Canceled or
//     context.DeadlineExceeded that does not match ErrAttemptTimeout.
//  8. ErrBodyTooLarge: OutcomeTooLarge.
//  9. A *StatusError: OutcomeStatusError (this includes ErrRedirect, which
//     wraps the redirect response's *StatusError).
//  10. ErrAttemptTimeout: OutcomeTimeout (an attempt timeout, not the caller's
//     deadline, which is rule 7).
//  11. A network error: OutcomeNetworkError.
//  12. Anything else: OutcomeOther.
func (r Result) Outcome() Outcome { return outcomeOf(r.Err) }

// outcomeOf is the single classification behind [Result.Outcome] and Stats.
func outcomeOf(err error) Outcome {
	if err == nil {
		return OutcomeOK // before anything errors.As could allocate for
	}
	var se *StatusError
	var re *retry.Error
	// Neither a refused address nor an open breaker is ever retried, so
	// neither is inside the *retry.Error of retries that ran out or were
	// interrupted: skip those walks (each costs an allocation there).
	_, retried := err.(*retry.Error)
	switch {
	case errors.Is(err, ErrInvalidRequest):
		return OutcomeInvalid
	case !retried && errors.Is(err, ErrForbiddenAddress):
		return OutcomeForbidden
	case !retried && errors.Is(err, ErrHostUnavailable):
		return OutcomeHostUnavailable
	case errors.Is(err, ErrDisallowed):
		return OutcomeDisallowed
	case errors.Is(err, ErrRobotsUnavailable):
		// Before the context cases: a cached robots.txt failure may wrap a
		// timeout, but the caller's context did not end.
		return OutcomeRobotsUnavailable
	case errors.As(err, &re) && (re.Reason == context.Canceled || re.Reason == context.DeadlineExceeded):
		return OutcomeCanceled // ctx ended during a backoff or a retry's wait
	case !errors.Is(err, ErrAttemptTimeout) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return OutcomeCanceled
	case errors.Is(err, ErrBodyTooLarge):
		return OutcomeTooLarge
	case errors.As(err, &se):
		return OutcomeStatusError
	case errors.Is(err, ErrAttemptTimeout):
		return OutcomeTimeout
	case isNetworkError(err):
		return OutcomeNetworkError
	}
	return OutcomeOther
}

package retry

import (
	"fmt"
	"time"
)

// DefaultMaxAttempts is the number of attempts of a Policy whose MaxAttempts
// is zero.
const DefaultMaxAttempts = 5

// Policy describes a retry loop: a [Schedule] of delays between attempts and
// the rules that stop the loop. The zero value is ready to use: 5 attempts,
// the zero Schedule's delays, no limit on the total time other than the
// context's. Each zero field takes the default documented on it. A Policy is a
// plain value: copy it freely and share it between goroutines as long as
// nobody modifies it.
type Policy struct {
	// Schedule gives the delays between attempts.
	Schedule

	// MaxAttempts is the total number of attempts, the first included.
	// Zero means DefaultMaxAttempts (5); 1 means no retry (see [NoRetry]); a
	// negative value means no limit (the loop then ends only by success, a
	// non-retryable error, MaxElapsed, the Budget or the context).
	MaxAttempts int

	// MaxElapsed bounds the total time from the start of the first attempt.
	// Do does not start a wait that would end past it. Zero means no limit:
	// a default here would silently turn retries off for slow operations.
	MaxElapsed time.Duration

	// Retryable reports whether an error is worth another attempt. Nil means
	// every error is, except those marked by [Permanent] and the caller's own
	// context errors, which are never retried whatever Retryable says.
	Retryable func(error) bool

	// OnRetry, if set, is called after a failed attempt when the policy allows
	// another attempt, just before the wait, with the number of the attempt
	// that failed (1 for the first), its error and the delay before the next
	// one. It is never called after the last attempt the policy allows; if ctx
	// ends during the wait that follows, the announced attempt is not made.
	// It runs on the goroutine that called Do.
	OnRetry func(attempt int, err error, delay time.Duration)

	// Budget, if set, is consulted after every failure; while it is depleted
	// Do stops with ErrBudget instead of retrying. Share one Budget between
	// all callers that talk to the same dependency.
	Budget *Budget
}

// NoRetry returns a policy that makes a single attempt. Pass it where an
// Options struct of this module takes a *Policy whose nil means a default
// that retries.
func NoRetry() *Policy { return &Policy{MaxAttempts: 1} }

// Validate reports a field outside its documented range: those of
// [Schedule.Validate] and a negative MaxElapsed. The error wraps
// [ErrInvalidPolicy] and names the field.
func (p Policy) Validate() error {
	if p.MaxElapsed < 0 {
		return fmt.Errorf("%w: MaxElapsed %v < 0", ErrInvalidPolicy, p.MaxElapsed)
	}
	return p.Schedule.Validate()
}

func (p *Policy) maxAttempts() int {
	if p.MaxAttempts == 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

package retry

import (
	"errors"
	"fmt"
	"time"
)

// Reasons a retry loop stops without success. An [*Error] returned by Do
// matches exactly one of them, or the context's error, with errors.Is.
var (
	// ErrExhausted means every attempt allowed by MaxAttempts failed.
	ErrExhausted = errors.New("retry: attempts exhausted")
	// ErrMaxElapsed means the next wait would have ended past MaxElapsed.
	ErrMaxElapsed = errors.New("retry: max elapsed time reached")
	// ErrBudget means the shared retry Budget was depleted.
	ErrBudget = errors.New("retry: retry budget depleted")
)

// Error is returned by Do and DoValue when they stop retrying an error that
// was still retryable. It matches its Reason and its Last error with errors.Is
// and errors.As.
type Error struct {
	// Reason is ErrExhausted, ErrMaxElapsed, ErrBudget, or the error of the
	// caller's context (context.Canceled or context.DeadlineExceeded).
	Reason error
	// Last is the error of the last attempt.
	Last error
	// Attempts is the number of attempts made.
	Attempts int
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v after %d attempt(s): %v", e.Reason, e.Attempts, e.Last)
}

// Unwrap returns the Reason and the Last error.
func (e *Error) Unwrap() []error { return []error{e.Reason, e.Last} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying. Permanent(nil) returns nil.
//
// One rule holds across this module: the mark counts wherever it is in the
// error's chain (an error that wraps a marked error is permanent too, see
// [IsPermanent]), and it is never removed. Do stops at once and returns the
// marked error as fn returned it; so do fetch, workqueue and stream. The mark
// is invisible otherwise: the marked error has err's message, and errors.Is
// and errors.As see through it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by Permanent.
func IsPermanent(err error) bool {
	_, ok := find[*permanentError](err)
	return ok
}

type afterError struct {
	err error
	d   time.Duration
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// After marks err as retryable no sooner than d from now, as a server's
// Retry-After asks. Do waits at least d (capped by Policy.MaxHint, with up to
// 10% jitter added) before the next attempt. The error stays subject to
// Retryable. After(nil, d) returns nil.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &afterError{err: err, d: max(d, 0)}
}

// Hint returns the wait requested with After by err or an error it wraps.
func Hint(err error) (time.Duration, bool) {
	if a, ok := find[*afterError](err); ok {
		return a.d, true
	}
	return 0, false
}

// find is errors.As for this package's own marks, without the allocation
// errors.As costs: it walks Unwrap() error and Unwrap() []error chains.
func find[T error](err error) (T, bool) {
	for err != nil {
		if t, ok := err.(T); ok {
			return t, true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if t, ok := find[T](e); ok {
					return t, true
				}
			}
			var zero T
			return zero, false
		default:
			var zero T
			return zero, false
		}
	}
	var zero T
	return zero, false
}

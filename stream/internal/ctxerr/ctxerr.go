// Package ctxerr keeps context errors out of errors that the caller's context
// did not cause, so that errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) is true only when the caller's own context ended.
package ctxerr

import (
	"context"
	"errors"

	"github.com/sluicego/sluice/retry"
)

// Matches reports whether err matches context.Canceled or
// context.DeadlineExceeded.
func Matches(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Hide returns err unchanged if it matches no context error. Otherwise it
// returns an error with the same message that matches, with errors.Is and
// errors.As, everything err matches except context.Canceled and
// context.DeadlineExceeded, and that keeps err's retry.Permanent mark and
// retry.After hint.
func Hide(err error) error {
	if err == nil || !Matches(err) {
		return err
	}
	var out error = &hidden{err}
	if d, ok := retry.Hint(err); ok {
		out = retry.After(out, d)
	}
	if retry.IsPermanent(err) {
		out = retry.Permanent(out)
	}
	return out
}

// hidden has no Unwrap method, so that errors.Is cannot reach the context
// error it holds; Is and As answer for the rest of the chain.
type hidden struct{ err error }

func (h *hidden) Error() string { return h.err.Error() }

func (h *hidden) Is(target error) bool {
	if target == context.Canceled || target == context.DeadlineExceeded {
		return false
	}
	return errors.Is(h.err, target)
}

func (h *hidden) As(target any) bool { return errors.As(h.err, target) }

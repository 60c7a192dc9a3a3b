// Package clock holds the module's one context-aware sleep, so that every
// package waits out a delay the same way: on a timer that is stopped when
// the wait ends, returning the context's error when the context ended.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx is done, whichever comes first, and returns
// ctx.Err() as it stands at the end of the wait: nil means the whole delay
// passed and ctx is still live. A d of zero or less does not wait. The timer
// is stopped on return, so an abandoned wait holds nothing.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ctx.Err()
}

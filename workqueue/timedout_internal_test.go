package workqueue

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The clock decides an overrun, never the state of the context's timer:
// built on the fake clock, the attempt's context is still live (its timer
// has not fired) when the attempt is judged after its deadline, and already
// ended when an attempt that returned before its deadline is judged.
func TestOverrunIsDecidedByTheClockNotByTheContextsTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 5 * time.Millisecond
		ctx, cancel := context.WithTimeoutCause(t.Context(), timeout, ErrAttemptTimeout)
		defer cancel()
		deadline, _ := ctx.Deadline()
		errOwn := errors.New("own error")

		// Returned after the deadline; the timer has not fired.
		require.NoError(t, ctx.Err())
		for _, returned := range []time.Time{deadline, deadline.Add(time.Nanosecond), deadline.Add(10 * timeout)} {
			err := timedOut(nil, timeout, deadline, returned)
			assert.ErrorIs(t, err, ErrAttemptTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)

			err = timedOut(errOwn, timeout, deadline, returned)
			assert.ErrorIs(t, err, ErrAttemptTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorIs(t, err, errOwn, "the handler's error is kept")
		}

		// Returned before the deadline, judged once the timer has fired.
		returned := time.Now().Add(timeout - time.Nanosecond)
		time.Sleep(2 * timeout)
		require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		assert.NoError(t, timedOut(nil, timeout, deadline, returned))
		assert.Same(t, errOwn, timedOut(errOwn, timeout, deadline, returned))
	})
}

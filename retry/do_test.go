package retry_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
)

// MaxElapsed is documented to count from the start of the first attempt. A
// first attempt that alone uses up most of it leaves no room for a wait.
func TestMaxElapsedCountsTheFirstAttemptsRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		p := retry.Policy{Schedule: retry.Schedule{Initial: 2 * time.Second, Jitter: retry.JitterNone}, MaxAttempts: -1, MaxElapsed: 10 * time.Second}
		err := retry.Do(t.Context(), p, func(context.Context) error {
			calls++
			time.Sleep(9 * time.Second)
			return errTransient
		})
		// 9s elapsed + 2s wait = 11s > 10s: no second attempt.
		assert.Equal(t, 1, calls)
		assert.Equal(t, 9*time.Second, time.Since(start))
		assert.ErrorIs(t, err, retry.ErrMaxElapsed)
		assert.ErrorIs(t, err, errTransient)
	})
}

// elapsed+delay must not overflow and let a practically endless wait pass
// the MaxElapsed check.
func TestHugeDelayPastMaxElapsedStopsInsteadOfOverflowing(t *testing.T) {
	p := retry.Policy{Schedule: retry.Schedule{MaxHint: math.MaxInt64, Jitter: retry.JitterNone}, MaxElapsed: time.Hour}
	d, err := p.Next(t.Context(), retry.After(errTransient, math.MaxInt64), 1, 0, time.Second)
	assert.Zero(t, d)
	assert.ErrorIs(t, err, retry.ErrMaxElapsed)

	p = retry.Policy{Schedule: retry.Schedule{Max: math.MaxInt64, Initial: math.MaxInt64 / 2, Jitter: retry.JitterNone}, MaxElapsed: time.Hour}
	d, err = p.Next(t.Context(), errTransient, 3, 0, time.Minute)
	assert.Zero(t, d)
	assert.ErrorIs(t, err, retry.ErrMaxElapsed)
}

package workqueue_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 11 item 5: a value job cannot count its own attempts, so the
// handler's context tells it; past the contexts shared by every job (16),
// with and without AttemptTimeout, and through a derived context.
func TestAttemptNumbersEachCallOfTheHandler(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		t.Run("timeout="+timeout.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const attempts = 20
				var mu sync.Mutex
				seen := map[int][]int{}
				q, err := workqueue.New(func(ctx context.Context, job int) error {
					sub, cancel := context.WithCancel(ctx)
					defer cancel()
					mu.Lock()
					seen[job] = append(seen[job], workqueue.Attempt(sub))
					mu.Unlock()
					if workqueue.Attempt(ctx) < attempts {
						return errTransient
					}
					return nil
				}, workqueue.Options[int]{
					Workers:        2,
					Retry:          &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, Max: time.Millisecond}, MaxAttempts: attempts},
					AttemptTimeout: timeout,
				})
				require.NoError(t, err)
				for job := range 3 {
					require.NoError(t, q.Submit(t.Context(), job))
				}
				require.NoError(t, q.Shutdown(t.Context()))
				want := make([]int, attempts)
				for i := range want {
					want[i] = i + 1
				}
				for job := range 3 {
					assert.Equal(t, want, seen[job], "job %d", job)
				}
				assert.EqualValues(t, 3, q.Stats().Succeeded)
			})
		})
	}
}

func TestAttemptIsZeroOutsideAHandler(t *testing.T) {
	assert.Zero(t, workqueue.Attempt(context.Background()))
	assert.Zero(t, workqueue.Attempt(t.Context()))
}

package workqueue_test

// Stress tests for the outstanding-job accounting (entered minus settled
// minus the workers' finished counts, and the watch counter that pairs with
// them). A lost wake-up shows as a Wait or Shutdown that does not return
// before the generous deadline; an early one as a job without an outcome.
// Run with -race -count=20.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hangDeadline bounds every wait that would hang forever on a lost wake-up.
const hangDeadline = 20 * time.Second

// Both counting modes: workers counting their outcomes apart (few workers)
// and all sharing one counter (more than 64 workers).
var stressWorkerCounts = []int{3, 80}

// Many submitters each submit a batch and Wait for it, while the jobs finish
// (some fail, some retry, some call Goexit) and other goroutines keep calling
// Wait with short deadlines: every Wait that returns nil has seen all the
// caller's jobs reported, and none hangs.
func TestManyWaitsRacingSubmissionsAndFinishesNeverHangOrReturnEarly(t *testing.T) {
	for _, workers := range stressWorkerCounts {
		const (
			submitters = 6
			rounds     = 40
			batch      = 8
		)
		var done [submitters * rounds * batch]atomic.Bool
		var calls [submitters * rounds * batch]atomic.Int32
		q, err := workqueue.New(func(_ context.Context, job int) error {
			n := calls[job].Add(1)
			switch {
			case job%11 == 0 && n == 1:
				runtime.Goexit()
			case job%5 == 0 && n == 1:
				return errTransient
			case job%3 == 0:
				runtime.Gosched()
			}
			return nil
		}, workqueue.Options[int]{
			Workers:  workers,
			Capacity: 4,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Microsecond}, MaxAttempts: 2, Retryable: func(error) bool { return true }},
			OnResult: func(o workqueue.Result[int]) {
				assert.False(t, done[o.Job].Swap(true), "job %d reported twice", o.Job)
			},
			Logger: discard(),
		})
		require.NoError(t, err)

		stop := make(chan struct{})
		var churn sync.WaitGroup
		for range 2 { // Waits coming and going keep the watch count moving
			churn.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Microsecond)
					err := q.Wait(ctx)
					cancel()
					if err != nil {
						assert.ErrorIs(t, err, context.DeadlineExceeded)
					}
				}
			})
		}
		var wg sync.WaitGroup
		for s := range submitters {
			wg.Go(func() {
				for r := range rounds {
					first := (s*rounds + r) * batch
					for j := first; j < first+batch; j++ {
						if !assert.NoError(t, q.Submit(context.Background(), j)) {
							return
						}
					}
					ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
					err := q.Wait(ctx)
					cancel()
					if !assert.NoError(t, err, "workers=%d: Wait hung", workers) {
						return
					}
					for j := first; j < first+batch; j++ {
						if !assert.True(t, done[j].Load(), "workers=%d: Wait returned before job %d was reported", workers, j) {
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		churn.Wait()
		st := q.Stats()
		requireQuiescent(t, st)
		require.EqualValues(t, len(done), st.Submitted)
		ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
		require.NoError(t, q.Shutdown(ctx))
		cancel()
	}
}

// Close races the last job's finish (and a Wait): whichever comes last
// must close the buffer, so the workers exit and Shutdown returns.
func TestCloseRacingTheLastFinishStillEndsTheWorkers(t *testing.T) {
	for _, workers := range stressWorkerCounts {
		for round := range 200 {
			var reported atomic.Int32
			q, err := workqueue.New(func(_ context.Context, job int) error {
				if job == 1 && round%2 == 0 {
					runtime.Goexit() // the last finish comes from a dying worker
				}
				return nil
			}, workqueue.Options[int]{
				Workers:  workers,
				Retry:    retry.NoRetry(),
				OnResult: func(workqueue.Result[int]) { reported.Add(1) },
				Logger:   discard(),
			})
			require.NoError(t, err)
			jobs := 1 + round%3
			for j := range jobs {
				require.NoError(t, q.TrySubmit(j))
			}
			var wg sync.WaitGroup
			wg.Go(q.Close)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
				defer cancel()
				assert.NoError(t, q.Wait(ctx))
			})
			ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
			require.NoError(t, q.Shutdown(ctx), "workers=%d round %d: Shutdown needed force, the buffer was never closed", workers, round)
			cancel()
			wg.Wait()
			require.EqualValues(t, jobs, reported.Load())
			requireQuiescent(t, q.Stats())
		}
	}
}

// Submitters rejected by Close settle their count on the shared counter
// while the workers settle theirs apart: the buffer closes exactly once,
// after the last accepted job, and no submitter sends on it after that.
func TestRejectedSubmittersRacingCloseAndTheLastFinishNeverPanic(t *testing.T) {
	for _, workers := range stressWorkerCounts {
		for round := range 50 {
			var reported atomic.Int64
			q, err := workqueue.New(noop, workqueue.Options[int]{
				Workers:  workers,
				Capacity: 1,
				OnResult: func(workqueue.Result[int]) { reported.Add(1) },
			})
			require.NoError(t, err)
			var accepted atomic.Int64
			var wg sync.WaitGroup
			for s := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						var err error
						if (s+i)%2 == 0 {
							err = q.TrySubmit(i)
						} else {
							err = q.Submit(context.Background(), i)
						}
						switch {
						case err == nil:
							accepted.Add(1)
						case errors.Is(err, workqueue.ErrClosed):
							return
						case !errors.Is(err, workqueue.ErrFull):
							t.Errorf("unexpected error: %v", err)
							return
						}
					}
				})
			}
			for accepted.Load() < int64(round%5) {
				runtime.Gosched()
			}
			ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
			require.NoError(t, q.Shutdown(ctx))
			cancel()
			wg.Wait()
			require.Equal(t, accepted.Load(), reported.Load())
			st := q.Stats()
			requireQuiescent(t, st)
			require.Equal(t, accepted.Load(), st.Submitted)
		}
	}
}

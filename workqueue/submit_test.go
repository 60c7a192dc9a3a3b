package workqueue_test

// Submit, TrySubmit and Close: backpressure, ErrClosed, and races between
// them. Tests named after a peer's bug (pond #108: github.com/alitto/pond
// issue 108, likewise ants, gammazero/workerpool, conc) show that bug cannot
// happen here.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlockedSubmittersGetErrClosedOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
			workqueue.Options[int]{Workers: 1, Capacity: 1})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 0))
		require.NoError(t, q.Submit(t.Context(), 1))
		synctest.Wait()
		errs := make(chan error, 5)
		for i := range 5 {
			go func() { errs <- q.Submit(t.Context(), 10+i) }()
		}
		synctest.Wait()
		q.Close()
		for range 5 {
			require.ErrorIs(t, <-errs, workqueue.ErrClosed)
		}
		close(release)
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2, st.Succeeded, "the backlog ran after Close")
	})
}

func TestSubmitReturnsContextErrorWhileFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
			workqueue.Options[int]{Workers: 1, Capacity: 1})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 0))
		require.NoError(t, q.Submit(t.Context(), 1))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		require.ErrorIs(t, q.Submit(ctx, 2), context.DeadlineExceeded)
		require.ErrorIs(t, q.TrySubmit(2), workqueue.ErrFull)
		close(release)
		require.NoError(t, q.Wait(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2, st.Submitted, "rejected submissions are not counted")
		require.NoError(t, q.Shutdown(t.Context()))
	})
}

func TestHandlerMaySubmitToItsOwnQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q *workqueue.Queue[int]
		var err error
		q, err = workqueue.New(func(ctx context.Context, n int) error {
			if n > 0 {
				return q.Submit(ctx, n-1)
			}
			return nil
		}, workqueue.Options[int]{Workers: 2, Capacity: 2})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 100))
		require.NoError(t, q.Wait(t.Context()))
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 101, st.Succeeded)
	})
}

// pond #108: a submitter blocked on a full queue never wakes.
func TestBlockedSubmitterAlwaysWakes_pond108(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
			workqueue.Options[int]{Workers: 1, Capacity: 1})
		require.NoError(t, err)
		const submitters = 50
		var wg sync.WaitGroup
		for i := range submitters {
			wg.Go(func() { assert.NoError(t, q.Submit(t.Context(), i)) })
		}
		synctest.Wait() // all but two are blocked on the full buffer
		assert.EqualValues(t, 1, q.Stats().Running)
		assert.EqualValues(t, 1, q.Stats().Queued)
		close(release)
		wg.Wait() // every blocked submitter got in
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, submitters, st.Succeeded)
	})

	// The same with real scheduling: many submitters, a one-slot buffer.
	q, err := workqueue.New(noop, workqueue.Options[int]{Workers: 1, Capacity: 1})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for s := range 16 {
		wg.Go(func() {
			for i := range 200 {
				assert.NoError(t, q.Submit(t.Context(), s*200+i))
			}
		})
	}
	wg.Wait()
	require.NoError(t, q.Shutdown(t.Context()))
	assert.EqualValues(t, 16*200, q.Stats().Succeeded)
}

// ants #197, #90: a task that submits to its own full pool deadlocks.
func TestHandlerSubmittingToItsOwnFullQueueDoesNotDeadlock_ants197(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q *workqueue.Queue[int]
		submitErrs := make(chan error, 10)
		var err error
		q, err = workqueue.New(func(ctx context.Context, job int) error {
			if job != 0 {
				return nil
			}
			// The only worker fills the one-slot buffer, then would block:
			// with a deadline the second Submit gives up instead.
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			for i := 1; i <= 3; i++ {
				submitErrs <- q.Submit(ctx, i)
			}
			return nil
		}, workqueue.Options[int]{Workers: 1, Capacity: 1})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 0))
		require.NoError(t, q.Wait(t.Context()))
		require.NoError(t, <-submitErrs)
		require.ErrorIs(t, <-submitErrs, context.DeadlineExceeded)
		require.ErrorIs(t, <-submitErrs, context.DeadlineExceeded)
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2, st.Succeeded)
	})

	// Without a deadline, Shutdown still unblocks it: Close makes the
	// blocked self-Submit return ErrClosed, and the backlog drains.
	synctest.Test(t, func(t *testing.T) {
		var q *workqueue.Queue[int]
		submitErr := make(chan error, 1)
		filled := make(chan struct{})
		var err error
		q, err = workqueue.New(func(ctx context.Context, job int) error {
			if job == 0 {
				<-filled
				submitErr <- q.Submit(ctx, 2) // buffer holds job 1: blocks
			}
			return nil
		}, workqueue.Options[int]{Workers: 1, Capacity: 1})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 0))
		synctest.Wait()
		require.NoError(t, q.Submit(t.Context(), 1))
		close(filled)
		synctest.Wait()
		require.Empty(t, submitErr, "the handler is blocked in Submit")
		require.NoError(t, q.Shutdown(t.Context()))
		require.ErrorIs(t, <-submitErr, workqueue.ErrClosed)
		assert.EqualValues(t, 2, q.Stats().Succeeded)
	})
}

// gammazero #76, #66: send on closed channel when Submit races Stop; conc #103:
// Go after Wait. Run with -count=20.
func TestSubmitRacingCloseAndShutdownNeverPanicsOrLosesJobs_gammazero76(t *testing.T) {
	for round := range 30 {
		var mu sync.Mutex
		reported := map[int]workqueue.Outcome{}
		dup := 0
		q, err := workqueue.New(func(ctx context.Context, job int) error {
			if job%7 == 0 {
				return errTransient
			}
			runtime.Gosched()
			return nil
		}, workqueue.Options[int]{
			Workers:  4,
			Capacity: 4,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Microsecond}, MaxAttempts: 2},
			Logger:   discard(),
			OnResult: func(o workqueue.Result[int]) {
				mu.Lock()
				defer mu.Unlock()
				if _, ok := reported[o.Job]; ok {
					dup++
				}
				reported[o.Job] = o.Outcome
			},
		})
		require.NoError(t, err)

		const submitters = 16
		accepted := make([][]int, submitters)
		var acceptedN atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for s := range submitters {
			wg.Go(func() {
				<-start
				for i := 0; ; i++ {
					job := s*1_000_000 + i
					var err error
					if i%2 == 0 {
						err = q.Submit(context.Background(), job)
					} else {
						err = q.TrySubmit(job)
					}
					switch {
					case err == nil:
						accepted[s] = append(accepted[s], job)
						acceptedN.Add(1)
					case errors.Is(err, workqueue.ErrFull):
					case errors.Is(err, workqueue.ErrClosed):
						return
					default:
						t.Errorf("unexpected error %v", err)
						return
					}
				}
			})
		}
		close(start)
		for acceptedN.Load() < int64(round%3)*100 { // close at various depths
			runtime.Gosched()
		}
		switch round % 4 {
		case 0:
			q.Close()
			require.NoError(t, q.Shutdown(context.Background()))
		case 1:
			forced, cancel := context.WithCancel(context.Background())
			cancel()
			err := q.Shutdown(forced)
			if err != nil {
				require.ErrorIs(t, err, workqueue.ErrShutdown)
			}
		case 2:
			var sw sync.WaitGroup
			sw.Go(q.Close)
			sw.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				defer cancel()
				_ = q.Shutdown(ctx)
			})
			sw.Go(func() { _ = q.Shutdown(context.Background()) })
			sw.Wait()
		case 3:
			// Submitters never pause, so Wait may not find the queue idle.
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			if err := q.Wait(ctx); err != nil {
				require.ErrorIs(t, err, context.DeadlineExceeded)
			}
			cancel()
			require.NoError(t, q.Shutdown(context.Background()))
		}
		wg.Wait()

		mu.Lock()
		total := 0
		for _, jobs := range accepted {
			for _, job := range jobs {
				_, ok := reported[job]
				require.True(t, ok, "round %d: accepted job %d has no outcome", round, job)
			}
			total += len(jobs)
		}
		require.Zero(t, dup, "outcomes reported twice")
		require.Len(t, reported, total, "outcomes only for accepted jobs")
		mu.Unlock()
		st := q.Stats()
		requireQuiescent(t, st)
		require.EqualValues(t, total, st.Submitted)
	}
}

// conc #103: Go after Wait. Wait is a join, not a close: the queue goes on.
func TestSubmitAfterWaitStillWorks_conc103(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, err := workqueue.New(noop, workqueue.Options[int]{Workers: 2})
		require.NoError(t, err)
		require.NoError(t, q.Wait(t.Context()), "an idle queue")
		for round := range 3 {
			for i := range 10 {
				require.NoError(t, q.Submit(t.Context(), i))
			}
			require.NoError(t, q.Wait(t.Context()))
			assert.EqualValues(t, 10*(round+1), q.Stats().Succeeded)
		}
		require.NoError(t, q.Shutdown(t.Context()))
	})
}

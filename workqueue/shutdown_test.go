package workqueue_test

// Wait, Shutdown, and what a handler or hook can do to them (Goexit, ignoring
// its context). Tests named after a peer's bug show that bug cannot happen
// here.

import (
	"context"
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
	"go.uber.org/goleak"
)

func TestShutdownDeadlineCancelsRunningAndDropsBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		q, err := workqueue.New(func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, workqueue.Options[int]{Workers: 2, Capacity: 4, OnResult: rec.record, Logger: discard()})
		require.NoError(t, err)
		for i := range 6 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		assert.Equal(t, time.Second, time.Since(start), "returns at the deadline")
		require.ErrorIs(t, err, workqueue.ErrShutdown)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		assert.Equal(t, 2, rec.count(workqueue.OutcomeCanceled))
		assert.Equal(t, 4, rec.count(workqueue.OutcomeDropped))
		for i := range 6 {
			o := rec.one(t, i)
			assert.ErrorIs(t, o.Err, workqueue.ErrShutdown)
			if o.Outcome == workqueue.OutcomeCanceled {
				assert.Equal(t, 1, o.Attempts)
				assert.ErrorIs(t, o.Err, context.Canceled, "wraps the handler's error")
			} else {
				assert.Zero(t, o.Attempts)
			}
		}
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2, st.Canceled)
		assert.EqualValues(t, 4, st.Dropped)
		require.ErrorIs(t, q.Submit(t.Context(), 9), workqueue.ErrClosed)
		require.ErrorIs(t, q.TrySubmit(9), workqueue.ErrClosed)
	})
}

func TestShutdownDeadlineCancelsJobsAwaitingRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		q, err := workqueue.New(func(context.Context, int) error { return errTransient }, workqueue.Options[int]{
			Workers:  1,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Hour, Jitter: retry.JitterNone}},
			OnResult: rec.record,
			Logger:   discard(),
		})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 1))
		synctest.Wait()
		require.EqualValues(t, 1, q.Stats().Retrying)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		require.ErrorIs(t, q.Shutdown(ctx), context.DeadlineExceeded)
		o := rec.one(t, 1)
		assert.Equal(t, workqueue.OutcomeCanceled, o.Outcome)
		assert.Equal(t, 1, o.Attempts)
		assert.ErrorIs(t, o.Err, workqueue.ErrShutdown)
		assert.ErrorIs(t, o.Err, errTransient)
		requireQuiescent(t, q.Stats())
	})
}

// Decided behaviour: Shutdown keeps its promise that no goroutine outlives
// it, so a handler that ignores its context delays Shutdown until the
// handler returns; Shutdown still reports that its deadline was missed.
func TestHandlerIgnoringContextDelaysShutdownUntilItReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		logs := &syncBuffer{}
		q, err := workqueue.New(func(context.Context, int) error {
			time.Sleep(10 * time.Second) // ignores ctx
			return nil
		}, workqueue.Options[int]{Workers: 1, Capacity: 1, OnResult: rec.record, Logger: slogTo(logs)})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 1))
		require.NoError(t, q.Submit(t.Context(), 2))
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err = q.Shutdown(ctx)
		assert.Equal(t, 10*time.Second, time.Since(start), "waited for the handler")
		require.ErrorIs(t, err, workqueue.ErrShutdown)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, workqueue.OutcomeSucceeded, rec.one(t, 1).Outcome, "it returned nil: its work is done")
		assert.Equal(t, workqueue.OutcomeDropped, rec.one(t, 2).Outcome)
		assert.Contains(t, logs.String(), "ignore their canceled context")
		requireQuiescent(t, q.Stats())
	})
}

// pond #138: Wait while the context is cancelled with tasks still queued.
func TestWaitWithCanceledContextAndQueuedJobsReturns_pond138(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
			workqueue.Options[int]{Workers: 1, Capacity: 4})
		require.NoError(t, err)
		for i := range 5 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		canceled, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, q.Wait(canceled), context.Canceled)

		ctx, cancel2 := context.WithTimeout(t.Context(), time.Second)
		defer cancel2()
		start := time.Now()
		require.ErrorIs(t, q.Wait(ctx), context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))

		close(release) // the queue was not disturbed by the abandoned Waits
		require.NoError(t, q.Wait(t.Context()))
		assert.EqualValues(t, 5, q.Stats().Succeeded)
		require.NoError(t, q.Shutdown(t.Context()))
	})
}

// k8s PR #141079: drain reports done while items are still queued.
func TestShutdownDoesNotReportDoneWhileJobsAreQueuedOrRetrying_k8s141079(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var done atomic.Int32
		var failedOnce sync.Map
		q, err := workqueue.New(func(_ context.Context, job int) error {
			time.Sleep(time.Second)
			if _, loaded := failedOnce.LoadOrStore(job, true); !loaded && job%3 == 0 {
				return errTransient
			}
			return nil
		}, workqueue.Options[int]{
			Workers:  2,
			Capacity: 10,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: 5 * time.Second, Jitter: retry.JitterNone}},
			OnResult: func(workqueue.Result[int]) { done.Add(1) },
		})
		require.NoError(t, err)
		for i := range 12 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		start := time.Now()
		require.NoError(t, q.Shutdown(t.Context()))
		assert.EqualValues(t, 12, done.Load(), "every job reported before Shutdown returned")
		// 12 first attempts on 2 workers take 6s; the last retry (job 9,
		// failed at 5s) runs at 10s and ends at 11s.
		assert.Equal(t, 11*time.Second, time.Since(start))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 12, st.Succeeded)
		assert.EqualValues(t, 4, st.Retries)
	})
}

// ants #212, #263, gammazero #50: background goroutines survive release.
func TestNoGoroutineOutlivesShutdown_ants212(t *testing.T) {
	for _, policy := range []*retry.Policy{retry.NoRetry(), {Schedule: retry.Schedule{Initial: time.Hour}}} {
		q, err := workqueue.New(func(_ context.Context, job int) error {
			if job%2 == 0 {
				return errTransient
			}
			return nil
		}, workqueue.Options[int]{Workers: 8, Retry: policy, Logger: discard()})
		require.NoError(t, err)
		for i := range 20 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err = q.Shutdown(ctx) // forced when retries wait an hour
		cancel()
		if policy.MaxAttempts != 1 {
			require.ErrorIs(t, err, workqueue.ErrShutdown)
		}
		goleak.VerifyNone(t) // checked right after Shutdown, not at exit
		requireQuiescent(t, q.Stats())
	}
}

// pond #135: a task calling runtime.Goexit makes StopAndWait hang.
func TestHandlerCallingGoexitDoesNotHangShutdown_pond135(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		var calls [6]atomic.Int32
		q, err := workqueue.New(func(_ context.Context, job int) error {
			n := calls[job].Add(1)
			if job == 0 || (job == 1 && n == 1) {
				runtime.Goexit()
			}
			return nil
		}, workqueue.Options[int]{
			Workers:  1,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3, Retryable: func(error) bool { return true }},
			OnResult: rec.record,
			Logger:   discard(),
		})
		require.NoError(t, err)
		for i := range 6 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		require.NoError(t, q.Shutdown(t.Context()))

		o0 := rec.one(t, 0)
		assert.Equal(t, workqueue.OutcomeFailed, o0.Outcome)
		assert.Equal(t, 3, o0.Attempts, "each Goexit is a failed attempt")
		assert.ErrorIs(t, o0.Err, workqueue.ErrGoexit)
		o1 := rec.one(t, 1)
		assert.Equal(t, workqueue.OutcomeSucceeded, o1.Outcome)
		assert.Equal(t, 2, o1.Attempts)
		for i := 2; i < 6; i++ {
			assert.Equal(t, workqueue.OutcomeSucceeded, rec.one(t, i).Outcome, "the worker was replaced")
		}
		requireQuiescent(t, q.Stats())
	})
}

// pond #135, in a hook: OnResult calling runtime.Goexit (as require does in a
// test's hook, through t.FailNow) ended the worker or the retry scheduler
// before the job was released, so Wait and Shutdown hung forever.
func TestOnResultCallingGoexitDoesNotHangWaitOrShutdown_pond135(t *testing.T) {
	// On the workers: after a success, after a handler's own Goexit, and
	// for a retry canceled by a forced shutdown.
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		q, err := workqueue.New(func(_ context.Context, job int) error {
			if job == 3 {
				runtime.Goexit()
			}
			return nil
		}, workqueue.Options[int]{
			Workers: 2,
			OnResult: func(o workqueue.Result[int]) {
				calls.Add(1)
				if o.Job%2 == 1 {
					runtime.Goexit()
				}
			},
			Logger: discard(),
		})
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		require.NoError(t, q.Wait(t.Context()))
		assert.EqualValues(t, 10, calls.Load())
		for i := 10; i < 20; i++ {
			require.NoError(t, q.Submit(t.Context(), i), "the workers were replaced")
		}
		require.NoError(t, q.Shutdown(t.Context()))
		assert.EqualValues(t, 20, calls.Load())
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 19, st.Succeeded)
		assert.EqualValues(t, 1, st.Failed)
	})

	// On the retry scheduler, canceling the jobs awaiting a retry.
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		q, err := workqueue.New(func(context.Context, int) error { return errTransient },
			workqueue.Options[int]{
				Workers: 2,
				Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Hour, Jitter: retry.JitterNone}, Retryable: func(error) bool { return true }},
				OnResult: func(o workqueue.Result[int]) {
					rec.record(o)
					runtime.Goexit()
				},
				Logger: discard(),
			})
		require.NoError(t, err)
		for i := range 5 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		synctest.Wait() // all five await their retry
		require.EqualValues(t, 5, q.Stats().Retrying)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, q.Shutdown(ctx), workqueue.ErrShutdown)
		for i := range 5 {
			assert.Equal(t, workqueue.OutcomeCanceled, rec.one(t, i).Outcome)
		}
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 5, st.Canceled)
	})
}

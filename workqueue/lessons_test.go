package workqueue_test

// One test per line of LESSONS.md, section "Worker pools", named after the
// failure it shows to be impossible here.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

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
		assert.Equal(t, 1, q.Stats().Running)
		assert.Equal(t, 1, q.Stats().Queued)
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
			Workers: 1,
			Retry: &retry.Policy{
				MaxAttempts: 3,
				Initial:     time.Millisecond,
				Retryable:   func(error) bool { return true },
			},
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
			Retry:    &retry.Policy{MaxAttempts: 2, Initial: time.Microsecond},
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

// ants #212, #263, gammazero #50: background goroutines survive release.
func TestNoGoroutineOutlivesShutdown_ants212(t *testing.T) {
	for _, policy := range []*retry.Policy{nil, {Initial: time.Hour}} {
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
		if policy != nil {
			require.ErrorIs(t, err, workqueue.ErrShutdown)
		}
		goleak.VerifyNone(t) // checked right after Shutdown, not at exit
		requireQuiescent(t, q.Stats())
	}
}

type payload struct{ data [64]byte }

// pond #110: finished tasks kept referenced by the buffer; k8s #138743:
// per-item failure state never pruned. Jobs that went through the buffer,
// the retry heap and a retry are collectable once reported.
func TestFinishedJobsAreNotReferencedByTheQueue_pond110_k8s138743(t *testing.T) {
	var attempts sync.Map
	q, err := workqueue.New(func(_ context.Context, p *payload) error {
		v, _ := attempts.LoadOrStore(p, new(atomic.Int32))
		if p.data[0]%2 == 0 && v.(*atomic.Int32).Add(1) == 1 {
			return errTransient
		}
		return nil
	}, workqueue.Options[*payload]{
		Workers: 4,
		Retry:   &retry.Policy{Initial: time.Microsecond, Max: time.Millisecond},
	})
	require.NoError(t, err)
	const n = 200
	weaks := make([]weak.Pointer[payload], n)
	for i := range n {
		p := &payload{}
		p.data[0] = byte(i)
		weaks[i] = weak.Make(p)
		require.NoError(t, q.Submit(t.Context(), p))
	}
	require.NoError(t, q.Wait(t.Context()))
	attempts.Clear() // the test's own references
	runtime.GC()
	runtime.GC()
	alive := 0
	for _, w := range weaks {
		if w.Value() != nil {
			alive++
		}
	}
	assert.Zero(t, alive, "finished jobs still referenced by the queue")
	assert.EqualValues(t, n/2, q.Stats().Retries)
	require.NoError(t, q.Shutdown(t.Context()))
}

// pond #84: timed-out tasks counted as successes.
func TestTimedOutJobsAreNotCountedAsSuccesses_pond84(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[string]()
		q, err := workqueue.New(func(ctx context.Context, job string) error {
			switch job {
			case "respects ctx":
				<-ctx.Done()
				return ctx.Err()
			case "ignores ctx":
				time.Sleep(2 * time.Second)
				return nil
			}
			return nil
		}, workqueue.Options[string]{Workers: 3, AttemptTimeout: time.Second, OnResult: rec.record})
		require.NoError(t, err)
		for _, job := range []string{"respects ctx", "ignores ctx", "fast"} {
			require.NoError(t, q.Submit(t.Context(), job))
		}
		require.NoError(t, q.Shutdown(t.Context()))
		for _, job := range []string{"respects ctx", "ignores ctx"} {
			o := rec.one(t, job)
			assert.Equal(t, workqueue.OutcomeFailed, o.Outcome, job)
			assert.ErrorIs(t, o.Err, workqueue.ErrAttemptTimeout, job)
			assert.ErrorIs(t, o.Err, context.DeadlineExceeded, job)
		}
		assert.Equal(t, workqueue.OutcomeSucceeded, rec.one(t, "fast").Outcome)
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 1, st.Succeeded)
		assert.EqualValues(t, 2, st.Failed)
	})
}

// pond #100: dropped tasks not counted.
func TestDroppedJobsAreCountedAndReported_pond100(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newOutcomes[int]()
		q, err := workqueue.New(func(ctx context.Context, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		}, workqueue.Options[int]{Workers: 1, Capacity: 10, OnResult: rec.record, Logger: discard()})
		require.NoError(t, err)
		for i := range 11 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.ErrorIs(t, q.Shutdown(ctx), workqueue.ErrShutdown)
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 10, st.Dropped)
		assert.EqualValues(t, 1, st.Canceled)
		assert.Equal(t, 10, rec.count(workqueue.OutcomeDropped))
		assert.Equal(t, 11, rec.jobs())
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
			Retry:    &retry.Policy{Initial: 5 * time.Second, Jitter: retry.JitterNone},
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

func ExampleQueue_Stats() {
	q, _ := workqueue.New(func(context.Context, int) error { return nil }, workqueue.Options[int]{Workers: 2})
	for i := range 5 {
		_ = q.Submit(context.Background(), i)
	}
	_ = q.Shutdown(context.Background())
	st := q.Stats()
	fmt.Println(st.Submitted, st.Succeeded, st.Queued)
	// Output: 5 5 0
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
				Retry:   &retry.Policy{Initial: time.Hour, Jitter: retry.JitterNone, Retryable: func(error) bool { return true }},
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
		require.Equal(t, 5, q.Stats().Retrying)
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

package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
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
)

var errTransient = errors.New("transient")

func noop(context.Context, int) error { return nil }

func TestNewRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		field string // named by the error
		opts  workqueue.Options[int]
	}{
		{"Workers", workqueue.Options[int]{Workers: -1}},
		{"Workers", workqueue.Options[int]{Workers: workqueue.MaxWorkers + 1}},
		{"Capacity", workqueue.Options[int]{Capacity: -1}},
		{"Capacity", workqueue.Options[int]{Capacity: workqueue.MaxCapacity + 1}},
		{"MaxRetrying", workqueue.Options[int]{MaxRetrying: -1}},
		{"AttemptTimeout", workqueue.Options[int]{AttemptTimeout: -time.Second}},
	}
	for _, tc := range cases {
		q, err := workqueue.New(noop, tc.opts)
		require.ErrorIs(t, err, workqueue.ErrInvalidOptions, "%+v", tc.opts)
		assert.ErrorContains(t, err, tc.field+" = ")
		assert.Nil(t, q)
	}
}

// A nil handler is a programmer error: New panics, as stream.Client.Run does.
func TestNewPanicsOnNilHandler(t *testing.T) {
	assert.PanicsWithValue(t, "workqueue: New with nil handler", func() {
		_, _ = workqueue.New[int](nil, workqueue.Options[int]{})
	})
}

func TestZeroOptionsGiveGOMAXPROCSWorkersAndAsManyBufferSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		q, err := workqueue.New(func(context.Context, int) error { <-release; return nil }, workqueue.Options[int]{})
		require.NoError(t, err)
		workers := runtime.GOMAXPROCS(0)
		for i := range workers {
			require.NoError(t, q.TrySubmit(i))
		}
		synctest.Wait()
		assert.EqualValues(t, workers, q.Stats().Running)
		for i := range workers {
			require.NoError(t, q.TrySubmit(workers+i), "buffer slot %d", i)
		}
		require.ErrorIs(t, q.TrySubmit(-1), workqueue.ErrFull)
		assert.EqualValues(t, workers, q.Stats().Queued)
		close(release)
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2*workers, st.Succeeded)
	})
}

// 1e5 jobs, one in five failing transiently (one in 25 twice), one in 1000
// permanently: every job is reported exactly once and the counts add up.
func TestEveryJobReportedExactlyOnceUnderTransientFailures(t *testing.T) {
	const n = 100_000
	synctest.Test(t, func(t *testing.T) {
		var attempts, reported [n]atomic.Int32
		var outcomes [5]atomic.Int64
		handler := func(_ context.Context, job int) error {
			a := attempts[job].Add(1)
			switch {
			case job%1000 == 7:
				return retry.Permanent(fmt.Errorf("job %d: bad input", job))
			case job%25 == 0 && a <= 2, job%5 == 0 && a == 1:
				return errTransient
			}
			return nil
		}
		q, err := workqueue.New(handler, workqueue.Options[int]{
			Workers:  8,
			Capacity: 64,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, Max: 5 * time.Millisecond}, MaxAttempts: 5},
			OnResult: func(o workqueue.Result[int]) {
				reported[o.Job].Add(1)
				outcomes[o.Outcome].Add(1)
			},
		})
		require.NoError(t, err)
		for i := range n {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		require.NoError(t, q.Wait(t.Context()))
		for i := range n {
			require.EqualValues(t, 1, reported[i].Load(), "job %d reported", i)
		}
		st := q.Stats()
		requireQuiescent(t, st)
		wantFailed := int64(n / 1000)
		// One retry for every job%5==0, a second for job%25==0; job%1000==7
		// is never %5==0.
		wantRetries := int64(n/5 + n/25)
		assert.EqualValues(t, n, st.Submitted)
		assert.Equal(t, wantFailed, st.Failed)
		assert.Equal(t, n-wantFailed, st.Succeeded)
		assert.Equal(t, wantFailed, outcomes[workqueue.OutcomeFailed].Load())
		assert.Equal(t, n-wantFailed, outcomes[workqueue.OutcomeSucceeded].Load())
		assert.Equal(t, wantRetries, st.Retries)
		require.NoError(t, q.Shutdown(t.Context()))
	})
}

func TestFailedJobsCarryTheDeadLetterError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBad := errors.New("bad input")
		rec := newOutcomes[string]()
		q, err := workqueue.New(func(_ context.Context, job string) error {
			if job == "permanent" {
				return retry.Permanent(errBad)
			}
			return errTransient
		}, workqueue.Options[string]{
			Workers:  1,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Jitter: retry.JitterNone, Initial: time.Second}, MaxAttempts: 3},
			OnResult: rec.record,
		})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), "permanent"))
		require.NoError(t, q.Submit(t.Context(), "transient"))
		start := time.Now()
		require.NoError(t, q.Shutdown(t.Context()))
		assert.Equal(t, 3*time.Second, time.Since(start), "waits 1s then 2s between the three attempts")

		p := rec.one(t, "permanent")
		assert.Equal(t, workqueue.OutcomeFailed, p.Outcome)
		assert.Equal(t, 1, p.Attempts)
		assert.ErrorIs(t, p.Err, errBad, "the permanent error itself")
		assert.True(t, retry.IsPermanent(p.Err), "with its mark (the rule of retry.Permanent)")
		assert.Equal(t, errBad.Error(), p.Err.Error())

		tr := rec.one(t, "transient")
		assert.Equal(t, workqueue.OutcomeFailed, tr.Outcome)
		assert.Equal(t, 3, tr.Attempts)
		assert.ErrorIs(t, tr.Err, retry.ErrExhausted)
		assert.ErrorIs(t, tr.Err, errTransient, "wraps the last attempt's error")
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 2, st.Failed)
		assert.EqualValues(t, 2, st.Retries)
	})
}

func TestRetryBackoffDoesNotHoldAWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		finished := map[string]time.Duration{}
		var failedOnce atomic.Bool
		q, err := workqueue.New(func(_ context.Context, job string) error {
			if job == "flaky" && !failedOnce.Swap(true) {
				return errTransient
			}
			mu.Lock()
			finished[job] = time.Since(start)
			mu.Unlock()
			return nil
		}, workqueue.Options[string]{
			Workers: 1,
			Retry:   &retry.Policy{Schedule: retry.Schedule{Jitter: retry.JitterNone, Initial: 10 * time.Second}},
		})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), "flaky"))
		synctest.Wait()
		assert.EqualValues(t, 1, q.Stats().Retrying)
		require.NoError(t, q.Submit(t.Context(), "steady"))
		require.NoError(t, q.Shutdown(t.Context()))
		assert.Equal(t, map[string]time.Duration{"steady": 0, "flaky": 10 * time.Second}, finished,
			"the only worker ran the other job while the retry waited")
	})
}

func TestRetriesCannotDeadlockAgainstAFullBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts sync.Map
		q, err := workqueue.New(func(_ context.Context, job int) error {
			v, _ := attempts.LoadOrStore(job, new(atomic.Int32))
			if v.(*atomic.Int32).Add(1) <= 2 {
				return errTransient
			}
			return nil
		}, workqueue.Options[int]{
			Workers:  1,
			Capacity: 1,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: -1},
		})
		require.NoError(t, err)
		var wg sync.WaitGroup
		for s := range 20 {
			wg.Go(func() {
				for i := range 50 {
					assert.NoError(t, q.Submit(t.Context(), s*50+i))
				}
			})
		}
		wg.Wait()
		require.NoError(t, q.Shutdown(t.Context()))
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 1000, st.Succeeded)
		assert.EqualValues(t, 2000, st.Retries)
	})
}

func TestJobsAwaitingRetryAreBoundedByMaxRetrying(t *testing.T) {
	const workers, maxRetrying = 2, 3
	synctest.Test(t, func(t *testing.T) {
		var q *workqueue.Queue[int]
		var attempts sync.Map
		var peak atomic.Int64
		handler := func(_ context.Context, job int) error {
			peak.Store(max(peak.Load(), q.Stats().Retrying))
			v, _ := attempts.LoadOrStore(job, new(atomic.Int32))
			if v.(*atomic.Int32).Add(1) <= 3 {
				return errTransient
			}
			return nil
		}
		var err error
		q, err = workqueue.New(handler, workqueue.Options[int]{
			Workers:     workers,
			Capacity:    2,
			MaxRetrying: maxRetrying,
			Retry:       &retry.Policy{Schedule: retry.Schedule{Initial: time.Second}},
			OnResult: func(workqueue.Result[int]) {
				peak.Store(max(peak.Load(), q.Stats().Retrying))
			},
		})
		require.NoError(t, err)
		for i := range 50 {
			require.NoError(t, q.Submit(t.Context(), i))
			peak.Store(max(peak.Load(), q.Stats().Retrying))
		}
		require.NoError(t, q.Shutdown(t.Context()))
		assert.LessOrEqual(t, peak.Load(), int64(maxRetrying+workers-1))
		assert.GreaterOrEqual(t, peak.Load(), int64(maxRetrying), "the limit was reached")
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 50, st.Succeeded)
	})
}

func TestHandlerPanicIsAFailedAttemptWithValueAndStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBoom := errors.New("boom")
		rec := newOutcomes[int]()
		var calls [4]atomic.Int32
		q, err := workqueue.New(func(_ context.Context, job int) error {
			n := calls[job].Add(1)
			switch {
			case job == 1:
				panic("plain value")
			case job == 2:
				panic(errBoom)
			case job == 3 && n == 1:
				panic("only once")
			}
			return nil
		}, workqueue.Options[int]{
			Workers:  1,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, Retryable: func(err error) bool { return !errors.Is(err, errBoom) }, MaxAttempts: 2},
			OnResult: rec.record,
			Logger:   discard(),
		})
		require.NoError(t, err)
		for i := range 4 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		require.NoError(t, q.Shutdown(t.Context()))

		assert.Equal(t, workqueue.OutcomeSucceeded, rec.one(t, 0).Outcome, "the worker survived")
		o1 := rec.one(t, 1)
		assert.Equal(t, workqueue.OutcomeFailed, o1.Outcome)
		assert.Equal(t, 2, o1.Attempts)
		var pe *workqueue.PanicError
		require.ErrorAs(t, o1.Err, &pe)
		assert.Equal(t, "plain value", pe.Value)
		assert.Contains(t, string(pe.Stack), "TestHandlerPanicIsAFailedAttemptWithValueAndStack", "the stack of the panic")

		o2 := rec.one(t, 2)
		assert.Equal(t, workqueue.OutcomeFailed, o2.Outcome)
		assert.Equal(t, 1, o2.Attempts, "Retryable saw the panic's error")
		assert.ErrorIs(t, o2.Err, errBoom)
		require.ErrorAs(t, o2.Err, &pe)

		o3 := rec.one(t, 3)
		assert.Equal(t, workqueue.OutcomeSucceeded, o3.Outcome)
		assert.Equal(t, 2, o3.Attempts, "a panic is retried like any failure")
		requireQuiescent(t, q.Stats())
	})
}

func TestAttemptTimeoutAppliesToEachAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var budgets []time.Duration
		var calls atomic.Int32
		rec := newOutcomes[int]()
		q, err := workqueue.New(func(ctx context.Context, _ int) error {
			deadline, ok := ctx.Deadline()
			require.True(t, ok)
			budgets = append(budgets, time.Until(deadline))
			if calls.Add(1) < 3 {
				<-ctx.Done()
				assert.ErrorIs(t, context.Cause(ctx), workqueue.ErrAttemptTimeout)
				return ctx.Err()
			}
			return nil
		}, workqueue.Options[int]{
			Workers:        1,
			AttemptTimeout: 5 * time.Second,
			Retry:          &retry.Policy{Schedule: retry.Schedule{Jitter: retry.JitterNone, Initial: time.Second}},
			OnResult:       rec.record,
		})
		require.NoError(t, err)
		require.NoError(t, q.Submit(t.Context(), 1))
		require.NoError(t, q.Shutdown(t.Context()))
		assert.Equal(t, []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}, budgets,
			"every attempt gets the full AttemptTimeout")
		o := rec.one(t, 1)
		assert.Equal(t, workqueue.OutcomeSucceeded, o.Outcome)
		assert.Equal(t, 3, o.Attempts)
	})
}

func TestOnResultPanicIsRecoveredAndLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncBuffer{}
		var calls atomic.Int32
		q, err := workqueue.New(noop, workqueue.Options[int]{
			Workers: 2,
			OnResult: func(o workqueue.Result[int]) {
				calls.Add(1)
				if o.Job%2 == 0 {
					panic("hook bug")
				}
			},
			Logger: slogTo(logs),
		})
		require.NoError(t, err)
		for i := range 10 {
			require.NoError(t, q.Submit(t.Context(), i))
		}
		require.NoError(t, q.Wait(t.Context()))
		assert.EqualValues(t, 10, calls.Load())
		assert.Contains(t, logs.String(), "OnResult panicked")
		assert.Contains(t, logs.String(), "hook bug")
		st := q.Stats()
		requireQuiescent(t, st)
		assert.EqualValues(t, 10, st.Succeeded)
		require.NoError(t, q.Shutdown(t.Context()))
	})
}

func TestPanicErrorMessage(t *testing.T) {
	err := &workqueue.PanicError{Value: 42}
	assert.True(t, strings.Contains(err.Error(), "42"))
	assert.NoError(t, err.Unwrap())
	assert.Equal(t, "dropped", workqueue.OutcomeDropped.String())
	assert.Equal(t, "Outcome(0)", workqueue.Outcome(0).String())
}

// A panic in the retry policy's hooks (Retryable, OnRetry) runs on a worker:
// it fails that job with a *PanicError instead of crashing the program.
func TestPanicInRetryHookFailsTheJobNotTheProgram(t *testing.T) {
	var mu sync.Mutex
	var outcomes []workqueue.Result[int]
	q, err := workqueue.New(func(context.Context, int) error { return errors.New("boom") }, workqueue.Options[int]{
		Workers: 2,
		Retry:   &retry.Policy{Retryable: func(error) bool { panic("bad predicate") }},
		OnResult: func(o workqueue.Result[int]) {
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, q.Submit(t.Context(), i))
	}
	require.NoError(t, q.Shutdown(t.Context()))
	require.Len(t, outcomes, 3)
	for _, o := range outcomes {
		assert.Equal(t, workqueue.OutcomeFailed, o.Outcome)
		var pe *workqueue.PanicError
		require.ErrorAs(t, o.Err, &pe)
		assert.Equal(t, "bad predicate", pe.Value)
	}
	assert.Equal(t, int64(3), q.Stats().Failed)
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
		Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Microsecond, Max: time.Millisecond}},
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

package workqueue_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsWatcher takes snapshots in a loop until stopped and counts every
// snapshot that breaks a Stats bound: a counter below its value in the
// previous snapshot, a gauge out of range, or Submitted above the jobs that
// may have been accepted (maxAccepted, read after the snapshot).
type statsWatcher struct {
	snapshots, backwards, overcount, undercount, badGauge int
	maxSubmitted                                          int64
}

func watchStats[T any](q *workqueue.Queue[T], workers int, maxAccepted func() int64, stop <-chan struct{}) *statsWatcher {
	w := &statsWatcher{}
	var prev workqueue.Stats
	for {
		select {
		case <-stop:
			return w
		default:
		}
		st := q.Stats()
		limit := maxAccepted()
		w.snapshots++
		w.maxSubmitted = max(w.maxSubmitted, st.Submitted)
		if st.Submitted < prev.Submitted || st.Succeeded < prev.Succeeded || st.Failed < prev.Failed ||
			st.Canceled < prev.Canceled || st.Dropped < prev.Dropped || st.Retries < prev.Retries {
			w.backwards++
		}
		if st.Submitted > limit {
			w.overcount++
		}
		if st.Submitted < st.Succeeded+st.Failed+st.Canceled+st.Dropped {
			w.undercount++
		}
		if st.Queued < 0 || st.Running < 0 || st.Retrying < 0 || st.Running > int64(workers) {
			w.badGauge++
		}
		prev = st
	}
}

func (w *statsWatcher) check(t *testing.T) {
	t.Helper()
	t.Logf("%d snapshots", w.snapshots)
	require.Positive(t, w.snapshots)
	assert.Zero(t, w.backwards, "snapshots with a counter lower than in the one before")
	assert.Zero(t, w.overcount, "snapshots with Submitted above the jobs accepted so far")
	assert.Zero(t, w.undercount, "snapshots with Submitted below the sum of outcomes")
	assert.Zero(t, w.badGauge, "snapshots with a gauge out of range")
}

// Issue 10 item 12, as reported: with 2 jobs ever accepted and 8 goroutines
// spinning on TrySubmit (all ErrFull), Submitted reached 462 384 and went
// backwards 133 729 times in a second: it was derived from the count of
// submissions begun minus those rejected, read in the wrong order.
func TestRejectedTrySubmitsAreNotCountedAsSubmitted(t *testing.T) {
	release := make(chan struct{})
	q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
		workqueue.Options[int]{Workers: 1, Capacity: 1})
	require.NoError(t, err)
	require.NoError(t, q.Submit(t.Context(), 0)) // the worker takes it
	require.NoError(t, q.Submit(t.Context(), 1)) // the buffer holds it

	stop := make(chan struct{})
	var spinners sync.WaitGroup
	var notFull atomic.Int64
	for range 8 {
		spinners.Go(func() {
			for range 20_000 {
				if q.TrySubmit(2) != workqueue.ErrFull {
					notFull.Add(1)
				}
			}
		})
	}
	watched := make(chan *statsWatcher)
	go func() { watched <- watchStats(q, 1, func() int64 { return 2 }, stop) }()
	spinners.Wait()
	close(stop)
	w := <-watched
	w.check(t)
	assert.EqualValues(t, 2, w.maxSubmitted)
	require.Zero(t, notFull.Load(), "TrySubmit calls that did not return ErrFull")

	close(release)
	require.NoError(t, q.Shutdown(t.Context()))
	st := q.Stats()
	requireQuiescent(t, st)
	assert.EqualValues(t, 2, st.Submitted)
}

// Every Stats bound, under a mix of Submit, TrySubmit, failures, retries and
// a forced Shutdown racing the submitters and the retries.
func TestStatsCountersNeverGoBackwardsNorCountUnacceptedJobs(t *testing.T) {
	const workers = 4
	const blocker = -1
	errFlaky := errors.New("flaky")
	var calls atomic.Int64
	q, err := workqueue.New(func(ctx context.Context, job int) error {
		if job == blocker {
			<-ctx.Done() // outstanding until the forced end
			return ctx.Err()
		}
		if calls.Add(1)%3 == 0 {
			return errFlaky
		}
		return nil
	}, workqueue.Options[int]{
		Workers:  workers,
		Capacity: 8,
		Retry:    &retry.Policy{Schedule: retry.Schedule{Jitter: retry.JitterNone, Initial: 1}, MaxAttempts: 3},
	})
	require.NoError(t, err)

	// mayBeAccepted counts submissions begun minus those that failed: at
	// any moment at least the number of jobs accepted.
	var mayBeAccepted, accepted atomic.Int64
	stop := make(chan struct{})
	watched := make(chan *statsWatcher)
	go func() { watched <- watchStats(q, workers, mayBeAccepted.Load, stop) }()

	shutdownErr := make(chan error, 1)
	var submitters sync.WaitGroup
	for s := range 6 {
		submitters.Go(func() {
			for i := range 3000 {
				mayBeAccepted.Add(1)
				var err error
				if s%2 == 0 {
					err = q.TrySubmit(i)
				} else {
					err = q.Submit(t.Context(), i)
				}
				if err != nil {
					mayBeAccepted.Add(-1)
					if err == workqueue.ErrClosed {
						return
					}
					continue
				}
				if accepted.Add(1) == 6*3000/2 {
					// Force the end while submissions and retries are
					// still under way. The blocker keeps a job outstanding
					// whatever the timing, so the end is forced by state,
					// not by which goroutine ran first.
					mayBeAccepted.Add(1)
					if err := q.Submit(t.Context(), blocker); err != nil {
						mayBeAccepted.Add(-1)
						t.Errorf("submit the blocker: %v", err)
					} else {
						accepted.Add(1)
					}
					canceled, cancel := context.WithCancel(t.Context())
					cancel()
					shutdownErr <- q.Shutdown(canceled)
				}
			}
		})
	}
	submitters.Wait()
	require.ErrorIs(t, <-shutdownErr, workqueue.ErrShutdown)
	close(stop)
	(<-watched).check(t)
	st := q.Stats()
	requireQuiescent(t, st)
	assert.Equal(t, accepted.Load(), st.Submitted)
	t.Logf("%+v", st)
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

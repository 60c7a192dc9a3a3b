package workqueue

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// attempts is the retry state of a job between attempts.
type attempts struct {
	n     int           // attempts made so far
	prev  time.Duration // the delay before the attempt about to run
	start time.Time     // start of the first attempt, kept only if MaxElapsed is set
	last  error         // error of the latest attempt
}

// work is one worker goroutine. It ends when the buffer is closed, which
// happens once intake is closed and every accepted job has been reported
// (see accounting.onDrained). If the handler or OnResult ends the goroutine with
// runtime.Goexit, after the job was settled (see run and callOnResult), a
// replacement goroutine takes over w.
func (q *Queue[T]) work(w *workerState) {
	defer q.wg.Done() // runs last: the replacement is counted before
	ended := false
	defer func() {
		if !ended {
			q.wg.Add(1)
			go q.work(w)
		}
	}()
	q.serve(w)
	ended = true
}

// serve takes jobs from the buffer, and due retries from the scheduler,
// until the buffer is closed.
func (q *Queue[T]) serve(w *workerState) {
	if q.sched == nil {
		for job := range q.jobs {
			q.start(w, job)
		}
		return
	}
	for {
		jobs := q.jobs
		var room <-chan struct{}
		if q.sched.full() {
			// Too many jobs await a retry: serve only those until there is
			// room again, so the backlog pushes back on submitters.
			if room = q.sched.roomSignal(); room != nil {
				jobs = nil
			}
		}
		select {
		case job, ok := <-jobs:
			if !ok {
				return
			}
			q.start(w, job)
		case it := <-q.sched.out:
			q.sched.taken()
			if q.killed.Load() {
				q.cancelRetry(w, it)
				continue
			}
			q.run(w, it.job, it.attempts)
		case <-room:
		}
	}
}

// start runs the first attempt of a job taken from the buffer, or drops it
// if a forced shutdown has begun.
func (q *Queue[T]) start(w *workerState, job T) {
	if q.killed.Load() {
		q.finish(w, Result[T]{Job: job, Outcome: OutcomeDropped, Err: ErrShutdown})
		return
	}
	q.run(w, job, attempts{})
}

// run makes one attempt at job and settles its result. A panic or
// runtime.Goexit in the handler settles the attempt as failed; after a
// Goexit the goroutine then ends, and work replaces it.
func (q *Queue[T]) run(w *workerState, job T, st attempts) {
	if st.n == 0 && q.trackStart {
		st.start = time.Now()
	}
	st.n++
	ctx, cancel := q.attemptContext(st.n), context.CancelFunc(nil)
	var deadline time.Time // the attempt's own; zero without AttemptTimeout
	if q.timeout > 0 {
		deadline = time.Now().Add(q.timeout)
		ctx, cancel = context.WithDeadlineCause(ctx, deadline, ErrAttemptTimeout)
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		r := recover()
		var err error
		if r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
			q.logger.Error("workqueue: handler panicked", "panic", r, "attempt", st.n)
		} else {
			err = ErrGoexit
			q.logger.Error("workqueue: handler called runtime.Goexit", "attempt", st.n)
		}
		if cancel != nil {
			cancel()
		}
		q.settle(w, job, &st, err)
	}()
	err := q.handler(ctx, job)
	returned = true
	if cancel != nil {
		err = timedOut(err, q.timeout, deadline, time.Now())
		cancel()
	}
	q.settle(w, job, &st, err)
}

// timedOut returns the error of an attempt that returned err at the time
// returned. The attempt overran if it returned at or after its deadline,
// whether or not the context's timer has fired yet: the clock decides, not
// which goroutine ran first. An overrun fails, with an error matching
// ErrAttemptTimeout and context.DeadlineExceeded that wraps err; an attempt that
// returned before its deadline keeps err, even if its context has ended
// since.
func timedOut(err error, timeout time.Duration, deadline, returned time.Time) error {
	switch {
	case returned.Before(deadline):
		return err
	case err == nil:
		return fmt.Errorf("%w (%v; the handler returned nil after its deadline): %w", ErrAttemptTimeout, timeout, context.DeadlineExceeded)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%v): %w", ErrAttemptTimeout, timeout, err)
	default:
		return fmt.Errorf("%w (%v): %w: %w", ErrAttemptTimeout, timeout, context.DeadlineExceeded, err)
	}
}

// settle decides what follows an attempt that returned err.
func (q *Queue[T]) settle(w *workerState, job T, st *attempts, err error) {
	if err == nil {
		if q.policy.Budget != nil {
			q.policy.Budget.Success()
		}
		w.succeeded.Add(1)
		q.finish(w, Result[T]{Job: job, Outcome: OutcomeSucceeded, Attempts: st.n})
		return
	}
	if q.killed.Load() {
		q.finish(w, Result[T]{Job: job, Outcome: OutcomeCanceled, Attempts: st.n, Err: fmt.Errorf("%w: %w", ErrShutdown, err)})
		return
	}
	var elapsed time.Duration
	if q.trackStart {
		elapsed = time.Since(st.start)
	}
	delay, stop := q.nextAttempt(err, st, elapsed)
	if stop != nil {
		if q.killed.Load() {
			q.finish(w, Result[T]{Job: job, Outcome: OutcomeCanceled, Attempts: st.n, Err: fmt.Errorf("%w: %w", ErrShutdown, err)})
			return
		}
		q.finish(w, Result[T]{Job: job, Outcome: OutcomeFailed, Attempts: st.n, Err: stop})
		return
	}
	st.prev = delay
	st.last = err
	if !q.sched.add(job, *st, delay, &q.acct.retries) {
		q.finish(w, Result[T]{Job: job, Outcome: OutcomeCanceled, Attempts: st.n, Err: fmt.Errorf("%w: %w", ErrShutdown, err)})
	}
}

// nextAttempt asks the retry policy what follows a failed attempt. A panic in
// the policy's Retryable or OnRetry hook ends the job as Failed with a
// *PanicError, like a panic in the handler, instead of crashing the worker.
func (q *Queue[T]) nextAttempt(err error, st *attempts, elapsed time.Duration) (delay time.Duration, stop error) {
	defer func() {
		if r := recover(); r != nil {
			q.logger.Error("workqueue: retry policy hook panicked", "panic", r, "attempt", st.n)
			delay, stop = 0, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return q.policy.Next(q.ctx, err, st.n, st.prev, elapsed)
}

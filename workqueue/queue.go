package workqueue

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
)

// Queue is a bounded buffer of jobs of type T served by a fixed set of worker
// goroutines, with retries, a per-attempt timeout and graceful or forced
// shutdown. Create one with [New]; its methods are safe for concurrent use,
// from any goroutine including the queue's own handlers.
//
// The queue owns Workers goroutines, plus one retry scheduler unless the
// policy allows a single attempt (such as [retry.NoRetry]). They exit once the queue is closed and every
// accepted job has been reported; [Queue.Shutdown] returns only after all of them
// have exited. A Queue that is never closed keeps them forever.
//
// Memory is bounded: at most Capacity jobs in the buffer, Workers jobs
// running and MaxRetrying+Workers-1 awaiting a retry. Retry state is held
// only for jobs awaiting a retry, and the queue keeps no reference to a job
// after its OnResult call.
type Queue[T any] struct {
	handler    func(context.Context, T) error
	onResult   func(Result[T])
	policy     *retry.Policy // never nil
	timeout    time.Duration
	logger     *slog.Logger
	trackStart bool // policy.MaxElapsed needs the start time of the first attempt

	// jobs is the buffer. It is closed only once intake is closed (no
	// submitter can send any more) and no job is outstanding (no retry can
	// come back), which tells the workers to exit.
	jobs chan T

	// Intake. closing is set, then closedCh closed, by the first Close.
	closing  atomic.Bool
	closedCh chan struct{} // wakes blocked submitters
	closeOne sync.Once

	// acct counts the outstanding jobs, which keep the buffer open, and
	// feeds Stats.
	acct accounting
	quit chan struct{} // closed with jobs: the scheduler exits

	// attemptCtxs[i] is the context of every job's attempt i+1 (see
	// attemptContext): children of ctx, made once.
	attemptCtxs []context.Context

	// Forced shutdown.
	ctx     context.Context // parent of every handler's context
	cancel  context.CancelFunc
	killed  atomic.Bool
	kill    chan struct{}
	killOne sync.Once

	wg    sync.WaitGroup
	sched *scheduler[T] // nil when the policy allows one attempt only
}

// shutdownGrace is how long a forced Shutdown lets canceled handlers return
// before it logs that some ignore their context.
const shutdownGrace = time.Second

// maxShardedWorkers is the most workers that count their outcomes apart;
// beyond it, summing the counters would cost more than sharing one.
const maxShardedWorkers = 64

// New starts a queue that calls handler for every submitted job, on
// opts.Workers goroutines. For a bad field of opts it returns an error
// wrapping [ErrInvalidOptions] and starts nothing. New panics if handler is
// nil, as [github.com/sluicego/sluice/stream.Client.Run] does: that is a programmer error.
//
// The handler's context ends when the attempt's AttemptTimeout expires or
// when a [Queue.Shutdown]'s context ends; [Attempt](ctx) returns the attempt's number.
// A nil return is success; an error is a failed attempt, retried according
// to opts.Retry (wrap it with [retry.Permanent] to fail at once). A panic or
// runtime.Goexit in the handler is a failed attempt too (see [PanicError] and
// [ErrGoexit]).
//
// A handler may [Queue.Submit] to its own queue. If the buffer is full and every
// worker does so, nothing can drain it: pass a context with a deadline
// (derived from the handler's context) or use [Queue.TrySubmit]. A handler must not
// call [Queue.Wait] or [Queue.Shutdown] on its own queue: they would wait for the handler
// itself.
func New[T any](handler func(ctx context.Context, job T) error, opts Options[T]) (*Queue[T], error) {
	if handler == nil {
		panic("workqueue: New with nil handler")
	}
	c, err := opts.config()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue[T]{
		handler:  handler,
		onResult: c.onResult,
		policy:   c.retry,
		timeout:  c.attemptTimeout,
		logger:   c.logger,
		jobs:     make(chan T, c.capacity),
		closedCh: make(chan struct{}),
		quit:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		kill:     make(chan struct{}),
	}
	q.acct.init(c.workers, func() {
		close(q.quit)
		close(q.jobs)
	})
	q.attemptCtxs = newAttemptContexts(ctx)
	q.trackStart = q.policy.MaxElapsed > 0
	if q.policy.MaxAttempts != 1 {
		q.sched = newScheduler[T](c.maxRetrying)
		q.wg.Add(1)
		go q.schedule()
	}
	q.wg.Add(len(q.acct.workers))
	for i := range q.acct.workers {
		go q.work(&q.acct.workers[i])
	}
	return q, nil
}

// Submit adds job to the queue, blocking while the buffer is full. It returns
// nil once the queue has accepted the job, which from then on reaches exactly
// one terminal [Outcome]. It returns [ErrClosed] if [Queue.Close] or [Queue.Shutdown] was called
// before or while it waited, and ctx.Err() if ctx ended while it waited; the
// job is then not accepted. If there is room at once, Submit accepts the job
// without looking at ctx.
func (q *Queue[T]) Submit(ctx context.Context, job T) error {
	if err := q.TrySubmit(job); err != ErrFull {
		return err
	}
	// The buffer is full: enter again, to wait. Count first, check closing
	// second (see TrySubmit).
	q.acct.enter()
	if q.closing.Load() {
		q.acct.reject()
		return ErrClosed
	}
	done := ctx.Done()
	if done == nil {
		// A context that never ends: a two-way select is cheaper.
		select {
		case q.jobs <- job:
			q.acct.accept()
			return nil
		case <-q.closedCh:
			q.acct.reject()
			return ErrClosed
		}
	}
	select {
	case q.jobs <- job:
		q.acct.accept()
		return nil
	case <-q.closedCh:
		q.acct.reject()
		return ErrClosed
	case <-done:
		q.acct.reject()
		return ctx.Err()
	}
}

// TrySubmit adds job to the queue if the buffer has room, without blocking.
// It returns nil if the job was accepted, [ErrFull] if the buffer was full and
// [ErrClosed] after [Queue.Close] or [Queue.Shutdown].
func (q *Queue[T]) TrySubmit(job T) error {
	if q.closing.Load() {
		return ErrClosed
	}
	// Count first, check closing second: Close sets closing first and looks
	// at the counts second, so either it sees us and keeps the buffer open,
	// or we see it and back off.
	q.acct.enter()
	if q.closing.Load() {
		q.acct.reject()
		return ErrClosed
	}
	select {
	case q.jobs <- job:
		q.acct.accept()
		return nil
	default:
		q.acct.reject()
		return ErrFull
	}
}

// Close stops intake: from its return on, [Queue.Submit] and [Queue.TrySubmit] return
// [ErrClosed], and submitters blocked on a full buffer wake up and return
// [ErrClosed] (or nil, if their job got in at that very moment; an accepted job
// is always run or reported). Close does not wait for the backlog: the
// workers go on with every accepted job, retries included, and exit when none
// is left. Use [Queue.Wait] to wait for the jobs, or [Queue.Shutdown] to also wait for the
// goroutines to exit. Close may be called more than once.
func (q *Queue[T]) Close() {
	q.closeOne.Do(func() {
		q.closing.Store(true)
		close(q.closedCh)
	})
	q.acct.closeIntake()
}

// Wait blocks until every job accepted so far has reached its outcome
// (retries included) and OnResult has returned for it, or until ctx ends, in
// which case it returns ctx.Err(). It does not close the queue, which keeps
// accepting and running jobs; like sync.WaitGroup.Wait, it returns at a
// moment when nothing is outstanding, so jobs submitted while it waits,
// including those of submitters blocked on a full buffer, are waited for
// too: if submissions never pause, bound Wait with ctx. Wait returns at once
// on an idle queue. A handler must not Wait on its own queue.
func (q *Queue[T]) Wait(ctx context.Context) error {
	return q.acct.wait(ctx)
}

// Shutdown closes the queue (see [Queue.Close]) and waits for the backlog to drain:
// every accepted job reaches its outcome, retries included. Then it returns
// nil, after every goroutine the queue started has exited.
//
// If ctx ends first, Shutdown forces the end: the contexts of running
// handlers are canceled, jobs awaiting a retry end [OutcomeCanceled], jobs
// still in the buffer end [OutcomeDropped], and a running job whose handler
// then returns an error or overruns [Options.AttemptTimeout] ends [OutcomeCanceled] (one
// that returns nil in time still ends [OutcomeSucceeded]). Shutdown then returns an error
// matching [ErrShutdown] and ctx.Err(), but only once every handler has
// returned and every goroutine has exited: a handler that ignores its
// context delays Shutdown past ctx's deadline for as long as it runs.
//
// Shutdown may be called more than once and concurrently; every call
// returns under the same rules.
func (q *Queue[T]) Shutdown(ctx context.Context) error {
	q.Close()
	select {
	case <-q.quit:
		q.wg.Wait()
		return nil
	case <-ctx.Done():
	}
	select {
	case <-q.quit: // drained just as ctx ended: not forced
		q.wg.Wait()
		return nil
	default:
	}
	q.force()
	q.dropBuffered()
	done := make(chan struct{})
	go func() { q.wg.Wait(); close(done) }()
	grace := time.NewTimer(shutdownGrace)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		q.logger.Warn("workqueue: handlers ignore their canceled context; Shutdown waits for them to return",
			"running", q.Stats().Running, "waited", shutdownGrace)
		<-done
	}
	return fmt.Errorf("%w: %w", ErrShutdown, ctx.Err())
}

// Stats returns a snapshot of the queue's counters. It reads each counter
// once, and derives nothing from submissions in progress: Submitted counts
// only jobs already accepted, and no counter of a later snapshot is below
// that of an earlier one.
func (q *Queue[T]) Stats() Stats {
	return q.acct.stats(func(s *Stats) {
		if q.sched != nil {
			s.Retrying = q.sched.held.Load()
		}
		s.Queued = int64(len(q.jobs))
	})
}

// force starts a forced shutdown, once.
func (q *Queue[T]) force() {
	q.killOne.Do(func() {
		q.killed.Store(true)
		close(q.kill)
		q.cancel()
		q.logger.Warn("workqueue: forced shutdown: canceling running jobs, dropping queued ones",
			"running", q.Stats().Running, "queued", len(q.jobs))
	})
}

// dropBuffered reports every job left in the buffer as dropped. A submitter
// still in flight may add one behind it; a worker then drops that one.
func (q *Queue[T]) dropBuffered() {
	for {
		select {
		case job, ok := <-q.jobs:
			if !ok {
				return
			}
			q.finish(nil, Result[T]{Job: job, Outcome: OutcomeDropped, Err: ErrShutdown})
		default:
			return
		}
	}
}

// finish reports a terminal outcome: counts it, calls OnResult, and releases
// the job. w is the worker calling, or nil off the workers. Succeeded
// outcomes are counted by the worker before the call.
func (q *Queue[T]) finish(w *workerState, o Result[T]) {
	q.acct.countEnd(o.Outcome)
	if q.onResult != nil {
		q.callOnResult(w, o)
	}
	q.acct.release(w)
}

// callOnResult calls OnResult, recovering a panic. If OnResult calls
// runtime.Goexit, it releases the job for finish before the goroutine ends.
func (q *Queue[T]) callOnResult(w *workerState, o Result[T]) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if r := recover(); r != nil {
			q.logger.Error("workqueue: OnResult panicked", "panic", r, "outcome", o.Outcome.String())
			return
		}
		q.logger.Error("workqueue: OnResult called runtime.Goexit", "outcome", o.Outcome.String())
		q.acct.release(w)
	}()
	q.onResult(o)
	returned = true
}

// Package workqueue runs jobs on a fixed pool of worker goroutines fed by a
// bounded buffer, with retries, a per-attempt timeout, a join and a graceful
// or forced shutdown, and accounts for every job it accepts.
//
// The entry point is [New]; [Queue.Submit] adds a job, [Queue.Wait] joins
// and [Queue.Shutdown] stops:
//
//	q, err := workqueue.New(func(ctx context.Context, url string) error {
//		return fetch(ctx, url)
//	}, workqueue.Options[string]{Workers: 8, AttemptTimeout: 10 * time.Second})
//	if err != nil {
//		return err
//	}
//	for _, url := range urls {
//		if err := q.Submit(ctx, url); err != nil {
//			return err
//		}
//	}
//	if err := q.Wait(ctx); err != nil { // every accepted job has its Outcome
//		return err
//	}
//	return q.Shutdown(ctx) // stop intake; the workers exit
//
// # When to use Queue rather than errgroup
//
// Use [golang.org/x/sync/errgroup] for one batch of related tasks that succeed
// or fail together: the first error cancels the rest and Wait returns it.
// Use a [Queue] for a stream of independent jobs arriving over time, where one
// job's failure does not concern the others: it applies backpressure to
// producers ([Queue.Submit] blocks while the buffer is full), retries failed
// jobs with backoff without holding a worker, and reports each job's own
// outcome through [Options.OnResult].
//
// # Lifecycle and guarantees
//
// [New] starts the workers. [Queue.Submit] and [Queue.TrySubmit] add jobs;
// once either returns nil the queue owns the job, and the job ends in exactly
// one [Outcome]: [OutcomeSucceeded], [OutcomeFailed] (the dead-letter path:
// retries exhausted or a permanent error), [OutcomeCanceled] (running or
// awaiting a retry when a Shutdown's context ended) or [OutcomeDropped]
// (never started before then). [Options.OnResult] receives each job's
// [Result] once, and [Stats] counts them.
//
// [Queue.Wait] joins without closing. [Queue.Close] stops intake (later
// submissions return [ErrClosed]) and lets the backlog finish in the
// background. [Queue.Shutdown] closes, waits for the backlog and, if its
// context ends first, cancels the running handlers, reports the rest, and
// returns once every goroutine of the queue has exited.
//
// Memory is bounded: [Options.Capacity] jobs in the buffer, [Options.Workers]
// running, and at most [Options.MaxRetrying] + Workers - 1 awaiting a retry, held
// by a single scheduler goroutine with one timer.
//
// Inside a handler, [Attempt](ctx) returns the attempt's number (1 for the
// first call).
//
// [Options.AttemptTimeout] bounds each attempt. The clock decides an overrun:
// an attempt whose handler returns at or after its deadline has failed (see
// [ErrAttemptTimeout]), even if it returned nil before its context's timer
// fired.
//
// A handler that panics or calls [runtime.Goexit] fails its attempt (see
// [PanicError] and [ErrGoexit]); the worker goes on.
//
// [Queue.Stats] counts only accepted jobs, and its counters never go
// backwards.
package workqueue

// Package sluice is a family of concurrency patterns for I/O-heavy Go
// programs. This package holds no code: start from a sub-package's
// constructor, workqueue.New, fetch.New or stream.New, all taking an Options
// struct whose zero value is usable. Here a work queue fetches URLs:
//
//	f, err := fetch.New(fetch.Options{PerHost: 4}) // caps, safe retries, bounded bodies
//	if err != nil {
//		return err
//	}
//	q, err := workqueue.New(func(ctx context.Context, url string) error {
//		return f.Get(ctx, url).Err // fetch has retried what was safe to retry
//	}, workqueue.Options[string]{Workers: 8, Retry: retry.NoRetry()})
//	if err != nil {
//		return err
//	}
//	for _, url := range urls {
//		if err := q.Submit(ctx, url); err != nil { // blocks while the queue is full
//			return err
//		}
//	}
//	return q.Shutdown(ctx) // drain the backlog, then stop the workers
//
// The sub-packages share two small primitives:
//
//   - [github.com/sluicego/sluice/retry]: retry an operation with jittered
//     exponential backoff. Permanent errors stop at once, server hints
//     (Retry-After) are honoured but capped, a shared retry.Budget stops
//     retry storms, and the returned error says why it stopped while keeping
//     the last attempt's error.
//   - [github.com/sluicego/sluice/limit]: bound concurrency. A weighted FIFO
//     semaphore that can be resized, a cap per key (per host) whose idle keys
//     are forgotten, a per-key rate limiter, an adaptive (AIMD) limit
//     that shrinks when a dependency signals overload, and circuit breakers
//     (one, or one per key) that fail fast while a dependency is down.
//
// On top of them, three components, each the production form of a program
// every asyncio tutorial teaches:
//
//   - [github.com/sluicego/sluice/workqueue]: a bounded queue with N workers.
//     Submit blocks while the queue is full (backpressure), failed jobs are
//     retried without holding a worker, and every accepted job ends in exactly
//     one reported outcome, through Wait (join), Close (drain) and Shutdown
//     (drain, then cancel). Use it for jobs that arrive over time; for a fixed
//     batch whose first error should cancel the rest, use errgroup.
//   - [github.com/sluicego/sluice/fetch]: a concurrent HTTP fetcher with a
//     global and a per-host cap, per-attempt timeouts, retries only where they
//     are safe, bounded bodies, optional robots.txt politeness, and results in
//     input order or as they complete. Non-2xx responses are errors.
//   - [github.com/sluicego/sluice/stream]: a client for a long-lived message
//     stream that reconnects with backoff (reset only once a connection proved
//     stable), detects dead peers, re-subscribes on every connect and buffers
//     outgoing messages while disconnected. Transports:
//     [github.com/sluicego/sluice/stream/websocket] and
//     [github.com/sluicego/sluice/stream/sse].
//
// Every blocking call takes a context.Context, every buffer and map is
// bounded, and no goroutine started by a sluice value outlives the call that
// stops it (Shutdown, the return of Run, the end of a range loop).
//
// # Errors and panics
//
// One rule holds in every package. A constructor given an Options field out
// of range returns an error that wraps that package's ErrInvalidOptions and
// names the field. A panic is kept for programmer errors that no input can
// cause, each documented where it applies: a nil handler (workqueue.New,
// stream.Client.Run), or an out-of-range argument given directly rather than
// in Options (limit.NewSemaphore, limit.NewKeyedRate, retry.NewBudget,
// Semaphore.Release). Errors returned later are sentinels for
// errors.Is (ErrClosed, ErrFull, ErrAttemptTimeout, ...) or typed errors for
// errors.As when they carry data; each wraps the error underneath with %w.
//
// # Options
//
// Every Options struct has a usable zero value: a zero field takes the
// default documented on it, and a nil pointer, func or interface field means
// the same as its zero (the documented default, or the feature off when the
// field says so). A nil Retry is that package's DefaultRetry, never "no
// retries": retry.NoRetry() turns retries off. Every package checks a
// retry.Policy or retry.Schedule it is given with its Validate method, so a
// policy accepted by one package is accepted by all. A retry.Permanent mark
// ends every retry loop of the module wherever it sits in the error chain and
// is never removed from the error returned.
//
// The same idea has the same name in every package, and each package
// declares its own copy of a shared sentinel (fetch.ErrAttemptTimeout,
// workqueue.ErrAttemptTimeout), documented the same way: a caller matches
// the error of the package it called, without importing another one.
package sluice

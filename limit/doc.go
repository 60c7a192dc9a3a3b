// Package limit bounds how much work runs at once, and how often, globally or
// per key.
//
//	perHost := limit.NewKeyed[string](4) // at most 4 requests per host at once
//	release, err := perHost.Acquire(ctx, host)
//	if err != nil {
//		return err // ctx ended while waiting
//	}
//	defer release()
//
// # Which type
//
//   - [Semaphore] ([NewSemaphore]): a weighted, FIFO, resizable cap shared by
//     all callers.
//   - [Keyed]: a cap per key (per host, per tenant): the same for every key
//     ([NewKeyed]), chosen per key ([NewKeyedFunc]), or adapting per key
//     ([NewAdaptiveKeyed]).
//   - [KeyedRate]: a token-bucket rate per key on golang.org/x/time/rate
//     ([NewKeyedRate]), or a minimum delay between a key's events
//     ([NewKeyedDelay]).
//   - [AIMD] ([NewAIMD]): a cap that grows additively on success and shrinks
//     multiplicatively on overload (429, 503, timeouts).
//   - [Breaker] ([NewBreaker]), [KeyedBreaker] ([NewKeyedBreaker]): a
//     circuit breaker, alone or per key, that fails fast while a dependency
//     is down.
//
// # Bounds
//
// None of the types start goroutines. Every call that can block takes a
// [context.Context] and returns when it ends. Maps keyed by caller-supplied
// keys stay bounded: a key's entry is removed when the key goes idle, during
// calls the caller already makes, never by a background sweeper.
//
// # Circuit breakers
//
// A [Breaker] is closed while calls succeed: each call takes a [Permit]
// from [Breaker.Allow] and reports its result with [Permit.Done], or
// [Breaker.Do] does both around a function. Failures trip it open, by
// either rule of [BreakerOptions]: ConsecutiveFailures in a row (5 by
// default), or a FailureRate over a sliding Window once it holds MinCalls
// calls. Open, it rejects every call at once with an [*OpenError] that
// matches [ErrBreakerOpen] and says until when, for a cool-down of
// CoolDown plus up to 20% jitter. Then it is half-open: HalfOpenProbes
// calls go through; if all succeed it closes, and the first failure opens
// it again for a new cool-down. A Permit taken before a change of state is
// ignored when it reports.
//
//	b, err := limit.NewBreaker(limit.BreakerOptions{FailureRate: 0.5})
//	...
//	err = b.Do(ctx, func(ctx context.Context) error { return callDependency(ctx) })
//	if errors.Is(err, limit.ErrBreakerOpen) {
//		// failed fast: the dependency was not called
//	}
//
// States change during calls (Allow, Done, State, Stats) by the clock:
// there is no timer and no goroutine. The closed path (Allow, then Done)
// takes no lock and allocates nothing (with FailureRate set, the first Done
// of each Window/10 takes a lock to start a new bucket). OnStateChange
// reports every change in order, with no lock held. A [KeyedBreaker] keeps one breaker per key
// (per host) and forgets a key's breaker once it is idle and not cooling
// down. To keep a work queue from hammering a dependency that is down,
// return the breaker's error wrapped in retry.After(err,
// time.Until(openErr.Until)): the job waits out the cool-down without
// holding a worker (see the workqueue example of [Breaker]).
//
// # Compared with golang.org/x/sync/semaphore
//
// Unlike [golang.org/x/sync/semaphore], [Semaphore] fails fast with
// [ErrTooLarge] when a request can never fit instead of blocking until the
// context ends, can be resized with [Semaphore.SetLimit], and reports
// [Semaphore.Stats]. Like it, when the head waiter gives up, [Semaphore]
// grants the waiters behind it that now fit (the scenario of golang/go#37852,
// which x/sync/semaphore v0.22.0 handles the same way).
package limit

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
//
// # Bounds
//
// None of the types start goroutines. Every call that can block takes a
// [context.Context] and returns when it ends. Maps keyed by caller-supplied
// keys stay bounded: a key's entry is removed when the key goes idle, during
// calls the caller already makes, never by a background sweeper.
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

// Package limit provides the limiting primitives that the rest of sluice is
// built on: a weighted, FIFO, resizable [Semaphore]; a per-key concurrency cap
// ([Keyed]: the same cap for every key with [NewKeyed], a cap chosen per key
// with [NewKeyedFunc], or one adapting per key with [NewAdaptiveKeyed]) whose
// entries exist only while a key is in use; a per-key token bucket rate limit
// ([KeyedRate], or a minimum delay between events with [NewKeyedDelay]) on
// golang.org/x/time/rate with lazy idle eviction; and an adaptive concurrency
// limit ([AIMD]) that grows additively on success and shrinks multiplicatively
// on overload.
//
// None of the types start goroutines. Every call that can block takes a
// [context.Context] and returns when it ends. Maps keyed by caller-supplied
// keys are bounded: entries are removed when a key goes idle, during calls the
// caller already makes, never by a background sweeper.
//
// When the waiter at the head of a [Semaphore]'s queue gives up (its context
// ends), the waiters behind it that now fit are granted at once, as in
// golang.org/x/sync/semaphore (the scenario of x/sync issue #37852). Unlike
// x/sync/semaphore, [Semaphore] fails fast with [ErrTooLarge] when a request can
// never fit, instead of blocking until the context ends, can be resized with
// [Semaphore.SetLimit], and reports [Semaphore.Stats].
package limit

// Package retry runs an operation again when it fails transiently, waiting a
// jittered exponential backoff between attempts.
//
// A [Schedule] says how long to wait between attempts; a [Policy] is a
// Schedule plus the rules that stop the loop: how many attempts, how much
// time, which errors are worth another try. Their zero values are usable: 5
// attempts, delays starting at 100ms, doubling, capped at 10s, with full
// jitter, and no limit on the total time other than the context's.
// Schedule{Initial: NoDelay} retries at once; [NoRetry] makes one attempt.
// [Policy.Validate] reports a field out of range; Do and every package of
// this module that takes a Policy check it.
//
//	p := retry.Policy{MaxAttempts: 4, Schedule: retry.Schedule{Max: 2 * time.Second}}
//	body, err := retry.DoValue(ctx, p, func(ctx context.Context) ([]byte, error) {
//		return get(ctx, url)
//	})
//
// [Do] and [DoValue] run a function under a Policy. The function can steer the
// loop through its error: mark it with [Permanent] to stop at once (the mark
// counts anywhere in the chain and is never removed), or with
// [After] to ask for a minimum wait (a server's Retry-After, say; the wait is
// capped by Policy.MaxHint). The caller's own context is never retried: when
// it ends, Do returns promptly.
//
// When Do gives up it returns an [*Error] that says why (errors.Is with
// [ErrExhausted], [ErrMaxElapsed], [ErrBudget], context.Canceled or
// context.DeadlineExceeded) and still wraps the last attempt's error.
//
// [Backoff] walks a Schedule as a stateful value, for loops that retry by
// themselves, such as a reconnecting client. [Policy.Next] makes
// Do's decision after one failed attempt without waiting, for loops that
// schedule attempts themselves, such as a work queue. [Budget] is a token
// bucket shared by many callers so that an outage does not become a retry
// storm. [ParseRetryAfter] turns an HTTP Retry-After header into a wait to
// pass to [After].
package retry

package retry

import "time"

// Backoff walks a [Schedule] as a stateful value, for loops that retry by
// themselves, such as a reconnecting client:
//
//	b := retry.Backoff{Schedule: s}
//	for {
//		err := connectAndServe(ctx)
//		...
//		select {
//		case <-time.After(b.NextFor(err)):
//		case <-ctx.Done():
//			return ctx.Err()
//		}
//	}
//
// Counting attempts and deciding when to stop are the loop's business. The
// zero value walks the zero Schedule. A Backoff is not safe for concurrent
// use; give each loop its own.
type Backoff struct {
	// Schedule gives the delays.
	Schedule Schedule

	attempt int
	prev    time.Duration
}

// Next returns the delay to wait after the next failure and advances the
// sequence. The first call returns the delay after the first failure.
func (b *Backoff) Next() time.Duration {
	if b.attempt < maxInt {
		b.attempt++
	}
	d := b.Schedule.delay(b.attempt, b.prev)
	b.prev = d
	return d
}

// NextFor is Next for a failure whose error may ask for a wait with [After]
// (a server's Retry-After): it returns the longer of Next's delay and that
// wait, capped at Schedule.MaxHint with up to 10% jitter, as [Do] would.
func (b *Backoff) NextFor(err error) time.Duration {
	return b.Schedule.withHint(b.Next(), err)
}

// Reset starts the sequence again, as after a success.
func (b *Backoff) Reset() {
	b.attempt = 0
	b.prev = 0
}

// Attempt returns how many times Next has been called since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

const maxInt = int(^uint(0) >> 1)

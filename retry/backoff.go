package retry

import "time"

// Backoff is the delay sequence of a Policy as a stateful value, for loops
// that retry by themselves, such as a reconnecting client:
//
//	b := retry.Backoff{Policy: p}
//	for {
//		err := connectAndServe(ctx)
//		...
//		select {
//		case <-time.After(b.Next()):
//		case <-ctx.Done():
//			return ctx.Err()
//		}
//	}
//
// Backoff ignores MaxAttempts, MaxElapsed, Retryable, OnRetry and Budget:
// counting and stopping are the loop's business. The zero value uses the zero
// Policy's delays. A Backoff is not safe for concurrent use; give each loop its own.
type Backoff struct {
	// Policy supplies Initial, Max, Multiplier and Jitter.
	Policy Policy

	attempt int
	prev    time.Duration
}

// Next returns the delay to wait after the next failure and advances the
// sequence. The first call returns the delay after the first failure.
func (b *Backoff) Next() time.Duration {
	if b.attempt < maxInt {
		b.attempt++
	}
	d := b.Policy.delay(b.attempt, b.prev)
	b.prev = d
	return d
}

// Reset starts the sequence again, as after a success.
func (b *Backoff) Reset() {
	b.attempt = 0
	b.prev = 0
}

// Attempt returns how many times Next has been called since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

const maxInt = int(^uint(0) >> 1)

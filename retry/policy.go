package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// Jitter selects how a delay is randomised. Randomising delays keeps clients
// that failed together from retrying together.
type Jitter int

const (
	// JitterFull waits a uniformly random time in [0, d), where d is the
	// exponential delay for the attempt. It is the default and spreads load best.
	JitterFull Jitter = iota
	// JitterEqual waits d/2 plus a uniformly random time in [0, d/2].
	JitterEqual
	// JitterDecorrelated waits a random time between Initial and three times
	// the previous delay, capped at Max. The sequence depends on the previous
	// delay, so it is computed by [Backoff] (and by [Do], which uses one).
	JitterDecorrelated
	// JitterNone waits exactly d. Clients that failed together retry together;
	// use it only in tests or for a single caller.
	JitterNone
)

// Defaults used for zero fields of a Policy.
const (
	DefaultMaxAttempts = 5
	DefaultInitial     = 100 * time.Millisecond
	DefaultMax         = 10 * time.Second
	DefaultMultiplier  = 2.0
	DefaultMaxHint     = time.Minute
)

// Policy describes a retry loop. The zero value is ready to use; each zero
// field takes the default documented on it. A Policy is a plain value: copy it
// freely and share it between goroutines as long as nobody modifies it.
type Policy struct {
	// MaxAttempts is the total number of attempts, the first included.
	// Zero means DefaultMaxAttempts (5); a negative value means no limit
	// (the loop then ends only by success, a non-retryable error, MaxElapsed,
	// the Budget or the context).
	MaxAttempts int

	// Initial is the base delay before the second attempt (default 100ms).
	Initial time.Duration

	// Max caps every delay computed from the exponential sequence
	// (default 10s). It is never exceeded, whatever the attempt number.
	Max time.Duration

	// Multiplier is the growth factor between consecutive delays
	// (default 2). Values below 1 are treated as 1 (a constant delay).
	Multiplier float64

	// Jitter selects the randomisation; the zero value is JitterFull.
	Jitter Jitter

	// MaxElapsed bounds the total time from the start of the first attempt.
	// Do does not start a wait that would end past it. Zero means no limit:
	// a default here would silently turn retries off for slow operations.
	MaxElapsed time.Duration

	// MaxHint caps a wait requested with [After] (default 1 minute), so a
	// server answering "Retry-After: 3600" cannot stall the caller for an hour.
	MaxHint time.Duration

	// Retryable reports whether an error is worth another attempt. Nil means
	// every error is, except those wrapped by [Permanent] and the caller's own
	// context errors, which are never retried whatever Retryable says.
	Retryable func(error) bool

	// OnRetry, if set, is called after a failed attempt when the policy allows
	// another attempt, just before the wait, with the number of the attempt
	// that failed (1 for the first), its error and the delay before the next
	// one. It is never called after the last attempt the policy allows; if ctx
	// ends during the wait that follows, the announced attempt is not made.
	// It runs on the goroutine that called Do.
	OnRetry func(attempt int, err error, delay time.Duration)

	// Budget, if set, is consulted after every failure; while it is depleted
	// Do stops with ErrBudget instead of retrying. Share one Budget between
	// all callers that talk to the same dependency.
	Budget *Budget
}

func (p *Policy) maxAttempts() int {
	if p.MaxAttempts == 0 {
		return DefaultMaxAttempts
	}
	return p.MaxAttempts
}

func (p *Policy) initial() time.Duration {
	if p.Initial <= 0 {
		return DefaultInitial
	}
	return p.Initial
}

func (p *Policy) max() time.Duration {
	if p.Max <= 0 {
		return DefaultMax
	}
	return p.Max
}

func (p *Policy) maxHint() time.Duration {
	if p.MaxHint <= 0 {
		return DefaultMaxHint
	}
	return p.MaxHint
}

func (p *Policy) multiplier() float64 {
	m := p.Multiplier
	if m == 0 {
		return DefaultMultiplier
	}
	if m < 1 || math.IsNaN(m) {
		return 1
	}
	return m
}

// Base returns the delay before attempt+1 without jitter: Initial ×
// Multiplier^(attempt-1), capped at Max. Attempt numbers below 1 count as 1.
// It never overflows and never returns a negative value.
func (p Policy) Base(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	initial, maxDelay := p.initial(), p.max()
	if initial >= maxDelay {
		return maxDelay
	}
	d := float64(initial) * math.Pow(p.multiplier(), float64(attempt-1))
	if math.IsNaN(d) || math.IsInf(d, 0) || d >= float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// Delay returns the jittered delay to wait after the given failed attempt
// (1 for the first). The result is always in [0, Max]. For JitterDecorrelated,
// which needs the previous delay, Delay assumes the previous delay was the
// un-jittered one; use a [Backoff] for the true decorrelated sequence.
func (p Policy) Delay(attempt int) time.Duration {
	var prev time.Duration
	if attempt > 1 {
		prev = p.Base(attempt - 1)
	}
	return p.delay(attempt, prev)
}

// delay applies the jitter to Base(attempt); prev is the previous delay
// actually waited (0 before the first wait).
func (p *Policy) delay(attempt int, prev time.Duration) time.Duration {
	switch p.Jitter {
	case JitterNone:
		return p.Base(attempt)
	case JitterEqual:
		d := p.Base(attempt)
		half := d / 2
		return half + randUpTo(d-half)
	case JitterDecorrelated:
		lo, maxDelay := p.initial(), p.max()
		if lo >= maxDelay {
			return maxDelay
		}
		hi := maxDelay
		if prev > 0 && prev <= maxDelay/3 {
			hi = prev * 3
		}
		if hi <= lo {
			return lo
		}
		return lo + randBelow(hi-lo)
	default: // JitterFull and unknown values
		return randBelow(p.Base(attempt))
	}
}

// randBelow returns a uniformly random duration in [0, d), or 0 when d <= 0.
func randBelow(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// randUpTo returns a uniformly random duration in [0, d], or 0 when d <= 0.
func randUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if d == math.MaxInt64 {
		return time.Duration(rand.Int64())
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// hinted returns the wait to use when the error asked for hint: the hint
// capped at MaxHint, plus up to 10% jitter unless Jitter is JitterNone, and
// never less than the backoff delay d.
func (p *Policy) hinted(d, hint time.Duration) time.Duration {
	h := min(hint, p.maxHint())
	if p.Jitter != JitterNone {
		// Saturate rather than overflow when MaxHint is near the largest
		// Duration.
		h += min(randUpTo(h/10), math.MaxInt64-h)
	}
	return max(d, h)
}

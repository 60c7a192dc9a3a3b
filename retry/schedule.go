package retry

import (
	"errors"
	"fmt"
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

// Defaults used for zero fields of a Schedule.
const (
	DefaultInitial    = 100 * time.Millisecond
	DefaultMax        = 10 * time.Second
	DefaultMultiplier = 2.0
	DefaultMaxHint    = time.Minute
)

// NoDelay, as Schedule.Initial, makes every delay zero: the next attempt
// starts at once. A wait requested with [After] is still honoured.
const NoDelay time.Duration = -1

// Schedule is a sequence of delays between attempts: exponential growth from
// Initial by Multiplier up to Max, randomised by Jitter. It says nothing about
// when to stop; a [Policy] adds that. The zero value is ready to use: 100ms,
// doubling, capped at 10s, full jitter. A Schedule is a plain value: copy it
// freely and share it between goroutines as long as nobody modifies it.
type Schedule struct {
	// Initial is the base delay after the first failure. Zero means
	// DefaultInitial (100ms); [NoDelay] means no delay at all.
	Initial time.Duration

	// Max caps every delay computed from the exponential sequence
	// (default 10s). It is never exceeded, whatever the attempt number.
	Max time.Duration

	// Multiplier is the growth factor between consecutive delays. Zero means
	// DefaultMultiplier (2); 1 gives a constant delay; values below 1 are
	// invalid.
	Multiplier float64

	// Jitter selects the randomisation; the zero value is JitterFull.
	Jitter Jitter

	// MaxHint caps a wait requested with [After] (default 1 minute), so a
	// server answering "Retry-After: 3600" cannot stall the caller for an hour.
	MaxHint time.Duration
}

// ErrInvalidPolicy is wrapped by the error [Schedule.Validate] and
// [Policy.Validate] return. Every package of this module that takes a Policy
// or a Schedule checks it with Validate, so a value one accepts no other
// rejects.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Validate reports a field outside its documented range: a negative Initial
// other than [NoDelay], a negative Max or MaxHint, an Initial above a set
// Max, a Multiplier below 1 (other than zero), infinite or NaN, or an
// unknown Jitter. The error wraps
// [ErrInvalidPolicy] and names the field.
func (s Schedule) Validate() error {
	switch {
	case s.Initial < 0 && s.Initial != NoDelay:
		return fmt.Errorf("%w: Initial %v < 0 (use retry.NoDelay for no delay)", ErrInvalidPolicy, s.Initial)
	case s.Max < 0:
		return fmt.Errorf("%w: Max %v < 0", ErrInvalidPolicy, s.Max)
	case s.Initial > 0 && s.Max > 0 && s.Initial > s.Max:
		return fmt.Errorf("%w: Initial %v exceeds Max %v", ErrInvalidPolicy, s.Initial, s.Max)
	case s.MaxHint < 0:
		return fmt.Errorf("%w: MaxHint %v < 0", ErrInvalidPolicy, s.MaxHint)
	case s.Multiplier != 0 && !(s.Multiplier >= 1 && !math.IsInf(s.Multiplier, 0)):
		return fmt.Errorf("%w: Multiplier %v: want 0 (the default) or a finite value >= 1", ErrInvalidPolicy, s.Multiplier)
	case s.Jitter < JitterFull || s.Jitter > JitterNone:
		return fmt.Errorf("%w: unknown Jitter %d", ErrInvalidPolicy, s.Jitter)
	}
	return nil
}

func (s *Schedule) initial() time.Duration {
	if s.Initial <= 0 {
		return DefaultInitial
	}
	return s.Initial
}

func (s *Schedule) max() time.Duration {
	if s.Max <= 0 {
		return DefaultMax
	}
	return s.Max
}

func (s *Schedule) maxHint() time.Duration {
	if s.MaxHint <= 0 {
		return DefaultMaxHint
	}
	return s.MaxHint
}

func (s *Schedule) multiplier() float64 {
	m := s.Multiplier
	if m == 0 {
		return DefaultMultiplier
	}
	if m < 1 || math.IsNaN(m) {
		return 1
	}
	return m
}

// Base returns the delay after the given failed attempt without jitter:
// Initial × Multiplier^(attempt-1), capped at Max; zero with [NoDelay].
// Attempt numbers below 1 count as 1. It never overflows and never returns a
// negative value. Fields that [Schedule.Validate] rejects act as their
// defaults, except a Multiplier below 1 or NaN, which acts as 1 (a constant
// delay), and an Initial above Max, which gives Max.
func (s Schedule) Base(attempt int) time.Duration {
	if s.Initial == NoDelay {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	initial, maxDelay := s.initial(), s.max()
	if initial >= maxDelay {
		return maxDelay
	}
	d := float64(initial) * math.Pow(s.multiplier(), float64(attempt-1))
	if math.IsNaN(d) || math.IsInf(d, 0) || d >= float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// Delay returns the jittered delay to wait after the given failed attempt
// (1 for the first). The result is always in [0, Max]. For JitterDecorrelated,
// which needs the previous delay, Delay assumes the previous delay was the
// un-jittered one; use a [Backoff] for the true decorrelated sequence.
func (s Schedule) Delay(attempt int) time.Duration {
	var prev time.Duration
	if attempt > 1 {
		prev = s.Base(attempt - 1)
	}
	return s.delay(attempt, prev)
}

// delay applies the jitter to Base(attempt); prev is the previous delay
// actually waited (0 before the first wait).
func (s *Schedule) delay(attempt int, prev time.Duration) time.Duration {
	if s.Initial == NoDelay {
		return 0
	}
	switch s.Jitter {
	case JitterNone:
		return s.Base(attempt)
	case JitterEqual:
		d := s.Base(attempt)
		half := d / 2
		return half + randUpTo(d-half)
	case JitterDecorrelated:
		lo, maxDelay := s.initial(), s.max()
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
		return randBelow(s.Base(attempt))
	}
}

// withHint returns the wait to use after an error that may carry an [After]
// hint: d, or the hint capped at MaxHint plus up to 10% jitter (none with
// JitterNone) when that is longer.
func (s *Schedule) withHint(d time.Duration, err error) time.Duration {
	hint, ok := Hint(err)
	if !ok {
		return d
	}
	h := min(hint, s.maxHint())
	if s.Jitter != JitterNone {
		// Saturate rather than overflow when MaxHint is near the largest
		// Duration.
		h += min(randUpTo(h/10), math.MaxInt64-h)
	}
	return max(d, h)
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

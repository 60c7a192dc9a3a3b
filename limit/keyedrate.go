package limit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluicego/sluice/internal/clock"
)

// DefaultRateIdle is the idle period used by [NewKeyedRate] when idle is 0.
const DefaultRateIdle = time.Minute

// KeyedRate is a token-bucket rate limit per key, for example per host, on
// golang.org/x/time/rate: each key has its own bucket ([NewKeyedRate]), and
// each event takes one token. It is safe for concurrent use.
//
// An entry whose bucket is full and that has not been used for the idle
// period is dropped by a later call, between idle and 2×idle after its last
// use, without a background goroutine. Dropping a full bucket is lossless: a
// new bucket starts full too.
type KeyedRate[K comparable] struct {
	r     rate.Limit
	burst int

	mu      sync.Mutex
	entries map[K]*rateEntry
	sweep   idleSweep[K, *rateEntry]
}

type rateEntry struct {
	lim     *rate.Limiter
	lastUse time.Time
}

// NewKeyedRate returns a per-key limit of r events per second with bursts
// of up to burst events. idle is how long an unused key with a full bucket
// is kept; 0 means [DefaultRateIdle].
//
// NewKeyedRate panics if r <= 0, burst < 1 (unless r is [rate.Inf], which
// allows every event), or idle < 0: those are programmer errors.
func NewKeyedRate[K comparable](r rate.Limit, burst int, idle time.Duration) *KeyedRate[K] {
	if r <= 0 {
		panic("limit: NewKeyedRate with rate <= 0")
	}
	if burst < 1 && r != rate.Inf {
		panic("limit: NewKeyedRate with burst < 1")
	}
	if idle < 0 {
		panic("limit: NewKeyedRate with idle < 0")
	}
	if idle == 0 {
		idle = DefaultRateIdle
	}
	full := float64(burst)
	return &KeyedRate[K]{
		r: r, burst: burst,
		entries: make(map[K]*rateEntry),
		// Dropping a full bucket is lossless: a new one starts full too.
		sweep: idleSweep[K, *rateEntry]{period: idle, idle: func(e *rateEntry, now time.Time) bool {
			return now.Sub(e.lastUse) >= idle && e.lim.TokensAt(now) >= full
		}},
	}
}

// NewKeyedDelay returns a per-key limit that spaces events for the same key
// at least d apart (the first one passes at once). It is
// NewKeyedRate(rate.Every(d), 1, idle). It panics if d <= 0 or idle < 0.
func NewKeyedDelay[K comparable](d, idle time.Duration) *KeyedRate[K] {
	if d <= 0 {
		panic("limit: NewKeyedDelay with d <= 0")
	}
	return NewKeyedRate[K](rate.Every(d), 1, idle)
}

// Wait blocks until an event for key is allowed (nil) or ctx is done
// (ctx.Err()). If ctx's deadline would pass first, it fails at once with an
// error wrapping [context.DeadlineExceeded]. An event that does not proceed
// gives its token back; other keys are never blocked.
func (l *KeyedRate[K]) Wait(ctx context.Context, key K) error {
	if l.r == rate.Inf {
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Read the clock under l.mu, so that the limiters see time in order: a
	// time older than a limiter's last update would make it count the same
	// interval's tokens twice.
	l.mu.Lock()
	now := time.Now()
	e := l.entryLocked(key, now)
	if e.lim.AllowN(now, 1) {
		l.mu.Unlock()
		return nil
	}
	// The reservation keeps the bucket below full until it is due, so the
	// entry cannot be evicted while we wait.
	res := e.lim.ReserveN(now, 1)
	l.mu.Unlock()
	if !res.OK() {
		return errors.New("limit: rate reservation refused") // unreachable with burst >= 1
	}
	delay := res.DelayFrom(now)
	if delay <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(now) < delay {
		res.CancelAt(now)
		return fmt.Errorf("limit: rate wait of %v would pass the context deadline: %w", delay, context.DeadlineExceeded)
	}
	if err := clock.Sleep(ctx, delay); err != nil {
		// The token goes back unless its time has already come.
		res.Cancel()
		return err
	}
	return nil
}

// Allow reports whether an event for key may happen now, and if so takes
// its token. It never blocks.
func (l *KeyedRate[K]) Allow(key K) bool {
	if l.r == rate.Inf {
		return true
	}
	l.mu.Lock()
	now := time.Now() // under l.mu, as in Wait
	ok := l.entryLocked(key, now).lim.AllowN(now, 1)
	l.mu.Unlock()
	return ok
}

// Len returns the number of keys with an entry, after dropping idle ones
// that are due.
func (l *KeyedRate[K]) Len() int {
	l.mu.Lock()
	l.sweep.sweep(l.entries, time.Now())
	n := len(l.entries)
	l.mu.Unlock()
	return n
}

func (l *KeyedRate[K]) entryLocked(key K, now time.Time) *rateEntry {
	l.sweep.sweep(l.entries, now)
	e := l.entries[key]
	if e == nil {
		e = &rateEntry{lim: rate.NewLimiter(l.r, l.burst)}
		l.entries[key] = e
	}
	e.lastUse = now
	return e
}

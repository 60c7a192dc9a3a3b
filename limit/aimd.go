package limit

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// AIMDOptions configures an [AIMD] limit. The zero value is valid: every
// zero field takes the default documented on it.
type AIMDOptions struct {
	// Min is the lowest limit. Default 1; it must be >= 1 so that requests
	// keep flowing and can report recovery.
	Min int64
	// Max is the highest limit. Default 100, or Min or Initial if larger.
	Max int64
	// Initial is the starting limit, in [Min, Max]. Default Min.
	Initial int64
	// Window is the number of successes that raise the limit by one.
	// Default 0 means "the current limit", so the limit grows by about one
	// per round trip of a full window of requests, as TCP does.
	Window int
	// Backoff multiplies the limit on an overload signal; it must be in
	// (0, 1). Default 0.5. The result is rounded down and never below Min.
	Backoff float64
	// OnChange, if set, is called with the new limit after it changes.
	// Calls are serialized and never made with an internal lock held, so
	// OnChange may call [AIMD.Limit]. A value superseded before its call could be
	// made may be skipped, but the last call always reports the latest limit.
	// OnChange must not call [AIMD.Success] or [AIMD.Overload].
	OnChange func(limit int64)
}

// normalize applies defaults and validates o.
func (o AIMDOptions) normalize() (AIMDOptions, error) {
	invalid := func(format string, args ...any) (AIMDOptions, error) {
		return o, fmt.Errorf("%w: AIMDOptions."+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	switch {
	case o.Min < 0:
		return invalid("Min %d < 0", o.Min)
	case o.Max < 0:
		return invalid("Max %d < 0", o.Max)
	case o.Initial < 0:
		return invalid("Initial %d < 0", o.Initial)
	case o.Window < 0:
		return invalid("Window %d < 0", o.Window)
	case math.IsNaN(o.Backoff) || o.Backoff < 0 || o.Backoff >= 1:
		return invalid("Backoff %v not in (0, 1)", o.Backoff)
	}
	if o.Min == 0 {
		o.Min = 1
	}
	if o.Max == 0 {
		o.Max = max(100, o.Min, o.Initial)
	}
	if o.Initial == 0 {
		o.Initial = o.Min
	}
	if o.Backoff == 0 {
		o.Backoff = 0.5
	}
	switch {
	case o.Max < o.Min:
		return invalid("Max %d < Min %d", o.Max, o.Min)
	case o.Initial < o.Min || o.Initial > o.Max:
		return invalid("Initial %d not in [Min %d, Max %d]", o.Initial, o.Min, o.Max)
	}
	return o, nil
}

// AIMD is an adaptive concurrency limit: additive increase, multiplicative
// decrease. It drives the limit of its [AIMD.Semaphore] within [Min, Max]:
// +1 after every window of [AIMD.Success], ×Backoff on [AIMD.Overload] (a 429,
// a 503, a timeout: the caller decides what counts). It is safe for
// concurrent use and starts no goroutines.
//
// The protocol: each request holds a permit while it runs and reports exactly
// one [AIMD.Success] or [AIMD.Overload] before releasing it.
//
// Cooldown: after a decrease, overload signals are ignored until as many
// signals have arrived as there were other permits held at the decrease,
// since those requests were sent under the old, higher limit. A burst of
// failures from one generation of requests thus cuts the limit once.
type AIMD struct {
	o   AIMDOptions
	sem *Semaphore

	mu        sync.Mutex
	limit     int64
	successes int   // since the last change
	cooldown  int64 // signals to see before the next decrease
	seq       uint64

	cbMu      sync.Mutex // serializes OnChange
	delivered uint64
}

// NewAIMD returns an AIMD limit configured by o. It returns an error
// wrapping [ErrInvalidOptions] if o is out of range.
func NewAIMD(o AIMDOptions) (*AIMD, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	return newAIMD(o, NewSemaphore(o.Initial)), nil
}

// newAIMD returns an AIMD driving sem, whose limit must be o.Initial.
func newAIMD(o AIMDOptions, sem *Semaphore) *AIMD {
	return &AIMD{o: o, sem: sem, limit: o.Initial}
}

// Semaphore returns the semaphore whose limit the AIMD drives. Its limit
// must not be changed by other means.
func (a *AIMD) Semaphore() *Semaphore { return a.sem }

// Acquire acquires one permit of [AIMD.Semaphore]; see [Semaphore.Acquire].
func (a *AIMD) Acquire(ctx context.Context) error { return a.sem.Acquire(ctx, 1) }

// Release releases one permit of [AIMD.Semaphore]; see [Semaphore.Release].
func (a *AIMD) Release() { a.sem.Release(1) }

// Limit returns the current limit.
func (a *AIMD) Limit() int64 {
	a.mu.Lock()
	l := a.limit
	a.mu.Unlock()
	return l
}

// Success records a request that completed without overload. After a
// window of successes the limit grows by one, up to Max.
func (a *AIMD) Success() {
	a.mu.Lock()
	if a.cooldown > 0 {
		a.cooldown--
	}
	a.successes++
	window := int64(a.o.Window)
	if window == 0 {
		window = a.limit
	}
	if int64(a.successes) < window {
		a.mu.Unlock()
		return
	}
	a.successes = 0
	if a.limit >= a.o.Max {
		a.mu.Unlock()
		return
	}
	a.setLocked(a.limit + 1)
}

// Overload records a request that signalled overload. The limit is
// multiplied by Backoff (rounded down, not below Min) unless a decrease
// made during the current cooldown already accounts for it.
func (a *AIMD) Overload() {
	a.mu.Lock()
	if a.cooldown > 0 {
		a.cooldown--
		a.mu.Unlock()
		return
	}
	a.successes = 0
	// Permits held by others at this moment belong to the generation
	// sent under the old limit. The caller's own permit is this signal.
	a.cooldown = max(a.sem.Stats().InUse-1, 0)
	next := max(int64(float64(a.limit)*a.o.Backoff), a.o.Min)
	if next == a.limit {
		a.mu.Unlock()
		return
	}
	a.setLocked(next)
}

// setLocked changes the limit, unlocks a.mu and reports the change.
func (a *AIMD) setLocked(limit int64) {
	a.limit = limit
	a.sem.SetLimit(limit)
	if a.o.OnChange == nil {
		a.mu.Unlock()
		return
	}
	a.seq++
	seq := a.seq
	a.mu.Unlock()

	a.cbMu.Lock()
	defer a.cbMu.Unlock()
	if seq <= a.delivered {
		return // a later change has been reported already
	}
	a.delivered = seq
	a.o.OnChange(limit)
}

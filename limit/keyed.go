package limit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// adaptiveIdle is how long an adaptive key with no holders or waiters keeps
// its learned limit. Like TCP restarting its congestion window after an idle
// period (RFC 2861), a key idle this long starts again from Initial.
const adaptiveIdle = time.Minute

// Keyed caps the number of concurrent holders per key, for example per host.
// Each key has its own FIFO [Semaphore] of weight-one permits; its cap is
// decided by the constructor: [NewKeyed], [NewKeyedFunc] or
// [NewAdaptiveKeyed].
//
// A key's entry exists only while the key has holders or waiters, so a stream
// of distinct keys does not accumulate memory (an adaptive Keyed keeps an idle
// key's learned cap for a while; see [NewAdaptiveKeyed]). Keyed starts no
// goroutines and is safe for concurrent use.
type Keyed[K comparable] struct {
	caps keyedCaps[K] // the constructor's strategy

	mu      sync.Mutex
	entries map[K]*keyedEntry
}

type keyedEntry struct {
	sem       Semaphore
	ctl       *AIMD // drives sem; nil unless adaptive
	refs      int   // holders + waiters; guarded by Keyed.mu
	idleSince time.Time
}

// keyedCaps is a Keyed's strategy, chosen by its constructor: the cap a key
// starts with, and what becomes of an entry nobody holds any more. Keyed
// calls open, keep and tidy with Keyed.mu held.
type keyedCaps[K comparable] interface {
	// start returns the cap key starts with. Keyed calls it with Keyed.mu
	// held, except capFunc's, which runs the caller's code.
	start(key K) int64
	// open returns a new entry with no holders and a cap of n.
	open(n int64) *keyedEntry
	// keep reports whether e, which has just lost its last holder or
	// waiter, stays in the map; if not, Keyed deletes it.
	keep(e *keyedEntry) bool
	// tidy deletes the entries kept idle for too long.
	tidy(entries map[K]*keyedEntry)
}

// NewKeyed returns a Keyed that allows up to limit concurrent holders per
// key. It panics if limit < 1: that is a programmer error.
func NewKeyed[K comparable](limit int64) *Keyed[K] {
	if limit < 1 {
		panic("limit: NewKeyed with limit < 1")
	}
	return newKeyed[K](&sameCap[K]{n: limit})
}

// NewKeyedFunc returns a Keyed whose cap for key is limitOf(key), for example
// a table of per-host caps with a default for the other hosts.
//
// limitOf is asked when key's entry is created (when a key with no holders or
// waiters is acquired) and by [Keyed.Limit] for a key with no
// entry; the cap then stays fixed until the entry's last release. limitOf is
// called with no lock held, possibly concurrently: it must be safe for
// concurrent use and fast.
//
// NewKeyedFunc panics if limitOf is nil; [Keyed.Acquire], [Keyed.TryAcquire]
// and [Keyed.Limit] panic, leaving the Keyed unchanged, if limitOf returns a
// value < 1.
func NewKeyedFunc[K comparable](limitOf func(K) int64) *Keyed[K] {
	if limitOf == nil {
		panic("limit: NewKeyedFunc with a nil limitOf")
	}
	return newKeyed[K](&capFunc[K]{limitOf: limitOf})
}

// NewAdaptiveKeyed returns a Keyed whose cap adapts per key: each key has its
// own [AIMD], fed by [Keyed.Success] and [Keyed.Overload], starting at
// o.Initial. A key with no holders or waiters keeps a learned cap other than
// Initial for one to two minutes after its last use.
//
// o.OnChange must be nil (it would not say which key changed; use
// [Keyed.Limit]). It returns an error wrapping [ErrInvalidOptions] if o is
// out of range.
func NewAdaptiveKeyed[K comparable](o AIMDOptions) (*Keyed[K], error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if o.OnChange != nil {
		return nil, fmt.Errorf("%w: AIMDOptions.OnChange is not supported by NewAdaptiveKeyed; use Keyed.Limit", ErrInvalidOptions)
	}
	a := &adaptiveCaps[K]{o: o}
	a.sweep = idleSweep[K, *keyedEntry]{period: adaptiveIdle, idle: func(e *keyedEntry, now time.Time) bool {
		return e.refs == 0 && now.Sub(e.idleSince) >= adaptiveIdle
	}}
	return newKeyed[K](a), nil
}

func newKeyed[K comparable](caps keyedCaps[K]) *Keyed[K] {
	return &Keyed[K]{caps: caps, entries: make(map[K]*keyedEntry)}
}

// Acquire acquires one permit for key, blocking until one is free or ctx is
// done; waiters on a key are served in FIFO order. It returns a release
// function to call once the work is done (later calls do nothing), or
// ctx.Err() with nothing held.
func (k *Keyed[K]) Acquire(ctx context.Context, key K) (release func(), err error) {
	e := k.ref(key)
	if err := e.sem.Acquire(ctx, 1); err != nil {
		k.unref(key, e)
		return nil, err
	}
	return k.releaser(key, e), nil
}

// TryAcquire acquires one permit for key without blocking and without
// jumping ahead of waiters. It returns a release function as
// [Keyed.Acquire] does, or ok = false if no permit was free.
func (k *Keyed[K]) TryAcquire(key K) (release func(), ok bool) {
	e := k.ref(key)
	if !e.sem.TryAcquire(1) {
		k.unref(key, e)
		return nil, false
	}
	return k.releaser(key, e), true
}

// Len returns the number of keys that have an entry: keys with holders or
// waiters and, if adaptive, idle keys still keeping a learned cap.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	k.caps.tidy(k.entries)
	n := len(k.entries)
	k.mu.Unlock()
	return n
}

// Limit returns key's current cap, or the cap it would start with if it has
// no entry.
func (k *Keyed[K]) Limit(key K) int64 {
	// Read the entry's limit under k.mu: once k.mu is released, the entry
	// may be deleted and recycled for another key with another cap.
	k.mu.Lock()
	if e := k.entries[key]; e != nil {
		n := e.sem.Stats().Limit
		k.mu.Unlock()
		return n
	}
	k.mu.Unlock()
	return k.caps.start(key)
}

// Success reports that a request for key completed without overload; see
// [AIMD.Success]. Call it while holding a permit for key. It does nothing
// unless the Keyed is adaptive.
func (k *Keyed[K]) Success(key K) {
	if e := k.lookup(key); e != nil && e.ctl != nil {
		e.ctl.Success()
	}
}

// Overload reports that a request for key signalled overload; see
// [AIMD.Overload]. Call it while holding a permit for key. It does nothing
// unless the Keyed is adaptive.
func (k *Keyed[K]) Overload(key K) {
	if e := k.lookup(key); e != nil && e.ctl != nil {
		e.ctl.Overload()
	}
}

func (k *Keyed[K]) lookup(key K) *keyedEntry {
	k.mu.Lock()
	e := k.entries[key]
	k.mu.Unlock()
	return e
}

// ref returns key's entry, creating it if needed, and counts the caller as
// a holder or waiter so that the entry is not deleted under it.
func (k *Keyed[K]) ref(key K) *keyedEntry {
	k.mu.Lock()
	k.caps.tidy(k.entries)
	e := k.entries[key]
	if e == nil {
		var n int64
		if c, ok := k.caps.(*capFunc[K]); ok {
			// limitOf is the caller's code: run it unlocked, then look
			// again, since another caller may have created the entry
			// meanwhile.
			k.mu.Unlock()
			n = c.start(key)
			k.mu.Lock()
			e = k.entries[key]
		} else {
			n = k.caps.start(key)
		}
		if e == nil {
			e = k.caps.open(n)
			k.entries[key] = e
		}
	}
	e.refs++
	k.mu.Unlock()
	return e
}

// unref drops the caller's reference; after the last one the strategy
// decides whether the entry stays.
func (k *Keyed[K]) unref(key K, e *keyedEntry) {
	k.mu.Lock()
	e.refs--
	if e.refs == 0 && !k.caps.keep(e) {
		delete(k.entries, key)
	}
	k.mu.Unlock()
}

func (k *Keyed[K]) releaser(key K, e *keyedEntry) func() {
	var released atomic.Bool
	return func() {
		if released.Swap(true) {
			return
		}
		e.sem.Release(1)
		k.unref(key, e)
	}
}

// sameCap is NewKeyed's strategy: every key's cap is n.
type sameCap[K comparable] struct {
	n int64
	recycled[K]
}

func (c *sameCap[K]) start(K) int64 { return c.n }

// capFunc is NewKeyedFunc's strategy: key's cap is limitOf(key), asked when
// its entry is created.
type capFunc[K comparable] struct {
	limitOf func(K) int64
	recycled[K]
}

func (c *capFunc[K]) start(key K) int64 {
	n := c.limitOf(key)
	if n < 1 {
		panic(fmt.Sprintf("limit: NewKeyedFunc's limitOf returned %d < 1", n))
	}
	return n
}

// recycled is the entry life of a fixed cap: an entry is deleted on its last
// release and reused for the next new entry.
type recycled[K comparable] struct {
	spare sync.Pool // *keyedEntry
}

func (r *recycled[K]) open(n int64) *keyedEntry {
	if e, _ := r.spare.Get().(*keyedEntry); e != nil {
		// A spare entry has no holders, no waiters and is reachable by no
		// one else: its limit may be set directly.
		e.sem.limit = n
		return e
	}
	return &keyedEntry{sem: Semaphore{limit: n}}
}

func (r *recycled[K]) keep(e *keyedEntry) bool {
	r.spare.Put(e) // no holders, no waiters: as good as new
	return false
}

func (*recycled[K]) tidy(map[K]*keyedEntry) {} // nothing is kept idle

// adaptiveCaps is NewAdaptiveKeyed's strategy: each key's cap is driven by
// its own AIMD; a key idle with a learned cap keeps it for adaptiveIdle.
type adaptiveCaps[K comparable] struct {
	o     AIMDOptions
	sweep idleSweep[K, *keyedEntry]
}

func (a *adaptiveCaps[K]) start(K) int64 { return a.o.Initial }

func (a *adaptiveCaps[K]) open(n int64) *keyedEntry {
	e := &keyedEntry{sem: Semaphore{limit: n}}
	e.ctl = newAIMD(a.o, &e.sem)
	return e
}

func (a *adaptiveCaps[K]) keep(e *keyedEntry) bool {
	if e.ctl.Limit() == a.o.Initial {
		return false // nothing learned: a new entry would be the same
	}
	e.idleSince = time.Now()
	return true
}

func (a *adaptiveCaps[K]) tidy(entries map[K]*keyedEntry) {
	a.sweep.sweep(entries, time.Now())
}

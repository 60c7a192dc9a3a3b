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
// Each key has its own FIFO [Semaphore] of weight-one permits.
//
// A key's entry exists only while the key has holders or waiters: the last
// release of an idle key deletes it, so a stream of distinct keys does not
// accumulate memory. An adaptive Keyed (see [NewAdaptiveKeyed]) also keeps
// an idle key whose learned limit differs from Initial, for up to one to two
// minutes after its last use; such entries are dropped lazily by later calls.
// Keyed starts no goroutines and is safe for concurrent use.
type Keyed[K comparable] struct {
	limit    int64         // fixed cap, or Initial when adaptive; unused with limitOf
	limitOf  func(K) int64 // per-key fixed cap (NewKeyedFunc), or nil
	adaptive *AIMDOptions  // nil when the cap is fixed

	mu        sync.Mutex
	entries   map[K]*keyedEntry
	lastSweep time.Time // adaptive only
	spare     sync.Pool // *keyedEntry of a fixed-cap Keyed, reused after deletion
}

type keyedEntry struct {
	sem       Semaphore
	ctl       *AIMD // non-nil when adaptive; ctl drives sem
	refs      int   // holders + waiters; guarded by Keyed.mu
	idleSince time.Time
}

// NewKeyed returns a Keyed that allows up to limit concurrent holders per
// key. It panics if limit < 1: that is a programmer error.
func NewKeyed[K comparable](limit int64) *Keyed[K] {
	if limit < 1 {
		panic("limit: NewKeyed with limit < 1")
	}
	return &Keyed[K]{limit: limit, entries: make(map[K]*keyedEntry)}
}

// NewKeyedFunc returns a Keyed whose cap for key is limitOf(key), for example
// a table of per-host caps with a default for the other hosts.
//
// limitOf is called when key's entry is created, that is when key is acquired
// (or TryAcquire'd) while it has no holders or waiters, and by [Keyed.Limit]
// for a key with no entry. The cap stays fixed while the entry exists; an
// entry is deleted on the last release, so a later use of the key asks
// limitOf again. limitOf is called without any lock of the Keyed held, from
// the goroutine calling Acquire, TryAcquire or Limit, possibly concurrently
// for different keys; it must be safe for concurrent use and should be fast.
//
// NewKeyedFunc panics if limitOf is nil, and Acquire, TryAcquire and Limit
// panic if limitOf returns a value < 1: those are programmer errors. A panic
// leaves the Keyed unchanged.
func NewKeyedFunc[K comparable](limitOf func(K) int64) *Keyed[K] {
	if limitOf == nil {
		panic("limit: NewKeyedFunc with a nil limitOf")
	}
	return &Keyed[K]{limitOf: limitOf, entries: make(map[K]*keyedEntry)}
}

// NewAdaptiveKeyed returns a Keyed whose per-key caps adapt: each key's cap
// starts at o.Initial and moves within [o.Min, o.Max] driven by its own
// [AIMD], fed by [Keyed.Success] and [Keyed.Overload]. o.OnChange is not
// supported (it would not say which key changed) and must be nil. It returns
// an error wrapping [ErrInvalidOptions] if o is out of range.
func NewAdaptiveKeyed[K comparable](o AIMDOptions) (*Keyed[K], error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	if o.OnChange != nil {
		return nil, fmt.Errorf("%w: AIMDOptions.OnChange is not supported by NewAdaptiveKeyed; use Keyed.Limit", ErrInvalidOptions)
	}
	return &Keyed[K]{limit: o.Initial, adaptive: &o, entries: make(map[K]*keyedEntry)}, nil
}

// Acquire acquires one permit for key, blocking until one is free or ctx is
// done. Waiters on the same key are served in FIFO order.
//
// On success it returns a release function that the caller must call once
// the work is done; further calls of the same function do nothing. On
// failure it returns ctx.Err() and holds nothing.
func (k *Keyed[K]) Acquire(ctx context.Context, key K) (release func(), err error) {
	e := k.ref(key)
	if err := e.sem.Acquire(ctx, 1); err != nil {
		k.unref(key, e)
		return nil, err
	}
	return k.releaser(key, e), nil
}

// TryAcquire acquires one permit for key without blocking. It never jumps
// ahead of waiters on key. It returns a release function as Acquire does,
// and ok = false (with a nil release) if no permit was free.
func (k *Keyed[K]) TryAcquire(key K) (release func(), ok bool) {
	e := k.ref(key)
	if !e.sem.TryAcquire(1) {
		k.unref(key, e)
		return nil, false
	}
	return k.releaser(key, e), true
}

// Len returns the number of keys that currently have an entry: keys with
// holders or waiters and, for an adaptive Keyed, idle keys still keeping a
// learned limit.
func (k *Keyed[K]) Len() int {
	k.mu.Lock()
	if k.adaptive != nil {
		k.sweepLocked(time.Now())
	}
	n := len(k.entries)
	k.mu.Unlock()
	return n
}

// Limit returns the current cap of key, or, if key has no entry, the cap it
// would start with: the fixed limit, limitOf(key) for a Keyed made by
// [NewKeyedFunc], or Initial when adaptive.
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
	if k.limitOf != nil {
		return k.capOf(key)
	}
	return k.limit
}

// capOf returns limitOf(key), checked. Call it without k.mu held.
func (k *Keyed[K]) capOf(key K) int64 {
	n := k.limitOf(key)
	if n < 1 {
		panic(fmt.Sprintf("limit: NewKeyedFunc's limitOf returned %d < 1", n))
	}
	return n
}

// Success reports that a request for key completed without overload; see
// [AIMD.Success]. Call it while holding a permit for key, before releasing
// it. It does nothing for a Keyed that is not adaptive or a key with no entry.
func (k *Keyed[K]) Success(key K) {
	if e := k.lookup(key); e != nil && e.ctl != nil {
		e.ctl.Success()
	}
}

// Overload reports that a request for key signalled overload; see
// [AIMD.Overload]. Call it while holding a permit for key, before releasing
// it. It does nothing for a Keyed that is not adaptive or a key with no entry.
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
	if k.adaptive != nil {
		k.sweepLocked(time.Now())
	}
	e := k.entries[key]
	if e == nil && k.limitOf != nil {
		// limitOf is the caller's code: run it unlocked, then look again,
		// since another caller may have created the entry meanwhile.
		k.mu.Unlock()
		n := k.capOf(key)
		k.mu.Lock()
		if e = k.entries[key]; e == nil {
			e = k.newFixedEntry(n)
			k.entries[key] = e
		}
	} else if e == nil {
		e = k.newEntry()
		k.entries[key] = e
	}
	e.refs++
	k.mu.Unlock()
	return e
}

// unref drops the caller's reference; the last one deletes the entry unless
// it keeps a learned adaptive limit.
func (k *Keyed[K]) unref(key K, e *keyedEntry) {
	k.mu.Lock()
	e.refs--
	if e.refs == 0 {
		switch {
		case e.ctl == nil:
			delete(k.entries, key)
			k.spare.Put(e) // no holders, no waiters: as good as new
		case e.ctl.Limit() == k.limit:
			delete(k.entries, key)
		default:
			e.idleSince = time.Now()
		}
	}
	k.mu.Unlock()
}

// sweepLocked deletes adaptive entries idle for longer than adaptiveIdle. It
// scans the map at most once per adaptiveIdle, so its cost is amortized over
// the calls made in between.
func (k *Keyed[K]) sweepLocked(now time.Time) {
	if now.Sub(k.lastSweep) < adaptiveIdle {
		return
	}
	k.lastSweep = now
	for key, e := range k.entries {
		if e.refs == 0 && now.Sub(e.idleSince) >= adaptiveIdle {
			delete(k.entries, key)
		}
	}
}

func (k *Keyed[K]) newEntry() *keyedEntry {
	if k.adaptive != nil {
		e := &keyedEntry{sem: Semaphore{limit: k.limit}}
		e.ctl = newAIMD(*k.adaptive, &e.sem)
		return e
	}
	return k.newFixedEntry(k.limit)
}

// newFixedEntry returns an entry with a fixed cap of n, reusing a spare one
// if possible.
func (k *Keyed[K]) newFixedEntry(n int64) *keyedEntry {
	if e, _ := k.spare.Get().(*keyedEntry); e != nil {
		// A spare entry has no holders, no waiters and is reachable by no one
		// else: its limit may be set directly.
		e.sem.limit = n
		return e
	}
	return &keyedEntry{sem: Semaphore{limit: n}}
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

package limit

import (
	"context"
	"sync"
)

// Semaphore is a weighted semaphore whose limit can be changed while it is in
// use. Waiters are served strictly in arrival order (FIFO): a waiter at the
// head of the queue that asks for many permits blocks smaller requests queued
// behind it until it fits, so large requests are never starved by a stream of
// small ones.
//
// A Semaphore must be created with [NewSemaphore]. It is safe for concurrent
// use. Acquire and Release on an uncontended semaphore do not allocate.
type Semaphore struct {
	mu      sync.Mutex
	limit   int64
	inUse   int64
	waiting int
	head    *waiter // oldest waiter; nil when nobody waits
	tail    *waiter
	spare   sync.Pool // *waiter, reused to keep the blocking path allocation-free
}

// waiter is one blocked Acquire. It leaves the queue (under Semaphore.mu)
// either granted (err == nil) or failed (err != nil); in both cases exactly one
// value is then sent on ready, which has capacity 1 so the send never blocks.
type waiter struct {
	n          int64
	ready      chan struct{}
	err        error
	queued     bool
	prev, next *waiter
}

// SemaphoreStats is a snapshot of a [Semaphore].
type SemaphoreStats struct {
	Limit   int64 // current limit
	InUse   int64 // permits held; may exceed Limit for a while after SetLimit shrinks it
	Waiting int   // Acquire calls blocked in the queue
}

// NewSemaphore returns a semaphore that allows up to limit permits to be held
// at once. It panics if limit < 0: that is a programmer error.
func NewSemaphore(limit int64) *Semaphore {
	if limit < 0 {
		panic("limit: NewSemaphore with limit < 0")
	}
	return &Semaphore{limit: limit}
}

// Acquire acquires n permits, blocking in FIFO order until they are free or
// ctx is done. On nil the caller must eventually [Semaphore.Release] n; on an
// error it holds nothing. The error is ctx.Err() if ctx is done first or at the same
// moment, and wraps [ErrTooLarge] if n exceeds the limit, now or after a
// [Semaphore.SetLimit] while it waits. It panics if n < 0.
func (s *Semaphore) Acquire(ctx context.Context, n int64) error {
	if n < 0 {
		panic("limit: Semaphore.Acquire with n < 0")
	}
	done := ctx.Done()
	s.mu.Lock()
	if done != nil {
		select {
		case <-done:
			// ctx ended before the call could take the lock: fail even if
			// permits are free, so a done ctx never acquires.
			s.mu.Unlock()
			return ctx.Err()
		default:
		}
	}
	if s.head == nil && s.limit-s.inUse >= n {
		s.inUse += n
		s.mu.Unlock()
		return nil
	}
	return s.acquireSlow(ctx, done, n)
}

// acquireSlow queues the caller and waits. It is called with s.mu held and
// releases it.
func (s *Semaphore) acquireSlow(ctx context.Context, done <-chan struct{}, n int64) error {
	if n > s.limit {
		limit := s.limit
		s.mu.Unlock()
		return tooLarge(n, limit)
	}
	w := s.newWaiter(n)
	s.push(w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		err := w.err
		s.spare.Put(w)
		if err != nil {
			return err
		}
		select {
		case <-done:
			// Granted and cancelled at the same moment: give the permits
			// back, so a done ctx never leaves the caller holding permits.
			s.Release(n)
			return ctx.Err()
		default:
			return nil
		}
	case <-done:
		s.mu.Lock()
		if w.queued {
			wasHead := s.head == w
			s.remove(w)
			if wasHead {
				// The waiters behind a cancelled head may fit now
				// (the scenario of x/sync issue #37852).
				s.grantLocked()
			}
			s.mu.Unlock()
			s.spare.Put(w)
			return ctx.Err()
		}
		// The waiter left the queue before we took the lock; its value is
		// already buffered in ready.
		<-w.ready
		err := w.err
		if err == nil {
			s.inUse -= n
			s.grantLocked()
		}
		s.mu.Unlock()
		s.spare.Put(w)
		if err != nil {
			return err
		}
		return ctx.Err()
	}
}

// TryAcquire acquires n permits without blocking. It reports whether it did;
// on false the semaphore is unchanged. It never takes permits ahead of
// queued waiters, so it fails while anyone is waiting. It panics if n < 0.
func (s *Semaphore) TryAcquire(n int64) bool {
	if n < 0 {
		panic("limit: Semaphore.TryAcquire with n < 0")
	}
	s.mu.Lock()
	ok := s.head == nil && s.limit-s.inUse >= n
	if ok {
		s.inUse += n
	}
	s.mu.Unlock()
	return ok
}

// Release returns n permits and grants them to waiters in FIFO order. It
// panics if n < 0 or if more permits are released than are held.
func (s *Semaphore) Release(n int64) {
	if n < 0 {
		panic("limit: Semaphore.Release with n < 0")
	}
	s.mu.Lock()
	s.inUse -= n
	if s.inUse < 0 {
		s.inUse += n
		s.mu.Unlock()
		panic("limit: Semaphore.Release of more permits than held")
	}
	if s.head != nil {
		s.grantLocked()
	}
	s.mu.Unlock()
}

// SetLimit changes the limit to n. Growing it grants queued waiters that now
// fit at once. Shrinking it does not revoke permits already held: InUse may
// exceed the limit until enough permits are released, and no new permits are
// granted meanwhile. Queued waiters asking for more than n fail at once with
// [ErrTooLarge]. SetLimit panics if n < 0.
func (s *Semaphore) SetLimit(n int64) {
	if n < 0 {
		panic("limit: Semaphore.SetLimit with n < 0")
	}
	s.mu.Lock()
	s.limit = n
	for w := s.head; w != nil; {
		next := w.next
		if w.n > n {
			s.remove(w)
			w.err = tooLarge(w.n, n)
			w.ready <- struct{}{}
		}
		w = next
	}
	s.grantLocked()
	s.mu.Unlock()
}

// Stats returns a consistent snapshot of the semaphore.
func (s *Semaphore) Stats() SemaphoreStats {
	s.mu.Lock()
	st := SemaphoreStats{Limit: s.limit, InUse: s.inUse, Waiting: s.waiting}
	s.mu.Unlock()
	return st
}

// grantLocked grants permits to waiters from the head of the queue for as
// long as the head fits. The head blocks everyone behind it.
func (s *Semaphore) grantLocked() {
	for w := s.head; w != nil; w = s.head {
		if s.limit-s.inUse < w.n {
			return
		}
		s.inUse += w.n
		s.remove(w)
		w.ready <- struct{}{}
	}
}

func (s *Semaphore) newWaiter(n int64) *waiter {
	w, _ := s.spare.Get().(*waiter)
	if w == nil {
		w = &waiter{ready: make(chan struct{}, 1)}
	}
	w.n = n
	w.err = nil
	return w
}

func (s *Semaphore) push(w *waiter) {
	w.queued = true
	w.prev = s.tail
	w.next = nil
	if s.tail == nil {
		s.head = w
	} else {
		s.tail.next = w
	}
	s.tail = w
	s.waiting++
}

func (s *Semaphore) remove(w *waiter) {
	if w.prev == nil {
		s.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		s.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	w.queued = false
	s.waiting--
}

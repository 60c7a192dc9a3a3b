package workqueue

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// retryItem is a job awaiting its next attempt.
type retryItem[T any] struct {
	due      time.Time
	seq      uint64 // FIFO among equal due times
	job      T
	attempts attempts
}

// scheduler holds the jobs awaiting a retry in a min-heap ordered by due
// time. One goroutine (Queue.schedule) owns the timer and hands due jobs to
// the workers over out, an unbuffered channel, so a retry re-enters the pool
// without needing buffer space and cannot deadlock against a full buffer.
type scheduler[T any] struct {
	out   chan retryItem[T]
	wake  chan struct{} // capacity 1: the heap's head may have changed
	limit int64         // MaxRetrying

	// held counts jobs in the heap plus one being handed to a worker. It
	// changes under mu and is read without it.
	held atomic.Int64

	mu     sync.Mutex
	items  []retryItem[T]
	seq    uint64
	closed bool          // forced shutdown: add refuses
	room   chan struct{} // closed when held drops below limit; nil if nobody waits
}

func newScheduler[T any](limit int) *scheduler[T] {
	return &scheduler[T]{
		out:   make(chan retryItem[T]),
		wake:  make(chan struct{}, 1),
		limit: int64(limit),
	}
}

// add schedules job to run again after delay and counts it on retries,
// before the job can be taken. It reports false, and keeps and counts
// nothing, if a forced shutdown has closed the scheduler.
func (s *scheduler[T]) add(job T, st attempts, delay time.Duration, retries *atomic.Int64) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	retries.Add(1)
	s.seq++
	s.push(retryItem[T]{due: time.Now().Add(delay), seq: s.seq, job: job, attempts: st})
	s.held.Add(1)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// full reports whether MaxRetrying jobs await a retry.
func (s *scheduler[T]) full() bool { return s.held.Load() >= s.limit }

// roomSignal returns a channel closed once fewer than MaxRetrying jobs await
// a retry, or nil if that is already so.
func (s *scheduler[T]) roomSignal() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held.Load() < s.limit {
		return nil
	}
	if s.room == nil {
		s.room = make(chan struct{})
	}
	return s.room
}

// taken records that a due job has left the scheduler.
func (s *scheduler[T]) taken() {
	s.mu.Lock()
	if s.held.Add(-1) < s.limit && s.room != nil {
		close(s.room)
		s.room = nil
	}
	s.mu.Unlock()
}

// closeAndTake closes the scheduler and returns every job it holds.
func (s *scheduler[T]) closeAndTake() []retryItem[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	items := s.items
	s.items = nil
	s.held.Add(-int64(len(items)))
	if s.room != nil { // let throttled workers go back to the buffer
		close(s.room)
		s.room = nil
	}
	return items
}

// schedule is the scheduler's goroutine: it sleeps on one timer until the
// earliest retry is due and hands it to a worker.
func (q *Queue[T]) schedule() {
	defer q.wg.Done()
	s := q.sched
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.items) > 0 {
			wait := time.Until(s.items[0].due)
			if wait <= 0 {
				it := s.pop()
				s.mu.Unlock()
				select {
				case s.out <- it:
					// The worker calls taken.
				case <-q.kill:
					s.mu.Lock()
					s.held.Add(-1)
					s.mu.Unlock()
					q.cancelAll(append(s.closeAndTake(), it))
					return
				}
				continue
			}
			timer.Reset(wait)
		}
		s.mu.Unlock()
		select {
		case <-timer.C:
		case <-s.wake:
		case <-q.quit:
			return
		case <-q.kill:
			q.cancelAll(s.closeAndTake())
			return
		}
		timer.Stop()
	}
}

// cancelAll reports jobs taken from the scheduler by a forced shutdown as
// canceled. If OnResult ends the goroutine (runtime.Goexit), a new goroutine
// reports the rest.
func (q *Queue[T]) cancelAll(items []retryItem[T]) {
	i := 0
	defer func() {
		if i < len(items) {
			rest := items[i+1:]
			q.wg.Add(1)
			go func() {
				defer q.wg.Done()
				q.cancelAll(rest)
			}()
		}
	}()
	for ; i < len(items); i++ {
		q.cancelRetry(nil, items[i])
	}
}

// cancelRetry reports a job taken from the scheduler as canceled; w is the
// worker calling, or nil.
func (q *Queue[T]) cancelRetry(w *workerState, it retryItem[T]) {
	q.finish(w, Result[T]{
		Job:      it.job,
		Outcome:  OutcomeCanceled,
		Attempts: it.attempts.n,
		Err:      fmt.Errorf("%w while awaiting retry: %w", ErrShutdown, it.attempts.last),
	})
}

// The heap: items[0] is the earliest due.

func (s *scheduler[T]) less(i, j int) bool {
	a, b := &s.items[i], &s.items[j]
	if a.due.Equal(b.due) {
		return a.seq < b.seq
	}
	return a.due.Before(b.due)
}

func (s *scheduler[T]) push(it retryItem[T]) {
	s.items = append(s.items, it)
	for i := len(s.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s.items[i], s.items[parent] = s.items[parent], s.items[i]
		i = parent
	}
}

// pop removes and returns the earliest item. The vacated slot is zeroed so
// that the backing array keeps no reference to the job.
func (s *scheduler[T]) pop() retryItem[T] {
	n := len(s.items) - 1
	top := s.items[0]
	s.items[0] = s.items[n]
	s.items[n] = retryItem[T]{}
	s.items = s.items[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s.items[i], s.items[m] = s.items[m], s.items[i]
		i = m
	}
	return top
}

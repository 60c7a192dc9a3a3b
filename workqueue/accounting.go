package workqueue

import (
	"context"
	"sync"
	"sync/atomic"
)

// accounting counts a queue's jobs from submission to outcome, so that Close,
// Wait and Shutdown know exactly when nothing is left, and Stats can report
// the counts.
//
// Its invariant: outstanding() is the number of accepted jobs without a
// reported outcome, plus submissions in flight (from their entry until they
// either have sent or have given up). While it is above zero the buffer stays
// open; each time it reaches zero while someone watches, Wait wakes, and after
// Close onDrained runs, once.
//
// The counters are kept apart so that submitters and workers never write the
// same cache line on the hot path: submitters write entered, rejected and
// accepted; each worker counts its successes and reported outcomes on its own
// workerState; outcomes reported off the workers (or by any worker, when not
// sharded) go to settled, and the other outcome counters and retries are
// shared.
type accounting struct {
	_        cacheLinePad
	entered  atomic.Int64 // submissions begun; written by submitters only, like the next two
	rejected atomic.Int64 // submissions given up: ErrClosed, ErrFull or ctx.Err()
	// accepted counts jobs in the buffer or past it, added after the send:
	// it never counts a job not accepted, and never decreases (Stats).
	accepted atomic.Int64
	_        cacheLinePad
	settled  atomic.Int64 // outcomes reported off the workers (or by all, if !sharded)
	sharded  bool         // workers count their outcomes apart; false with many workers, to bound outstanding's cost
	// watch counts reasons to notice when nothing is outstanding: one per
	// Wait in progress, plus one once intake is closed. While it is zero,
	// finishing a job costs no look at the other counters.
	watch      atomic.Int32
	_          cacheLinePad
	idleMu     sync.Mutex
	idle       chan struct{} // closed when nothing is outstanding; nil until wait needs one
	intakeDone bool          // Close was called: once nothing is outstanding, no job can come
	drained    bool          // onDrained has run
	// onDrained runs once, under idleMu, when intake is closed and nothing is
	// outstanding: it closes the buffer, which tells the workers to exit.
	onDrained func()

	// workers[i] is worker i's own counters.
	workers []workerState

	// Outcome counters for Stats; Succeeded is counted per worker.
	failed, canceled, dropped, retries atomic.Int64
}

// workerState holds one worker's counters. Only its worker (or the worker
// replacing it after a runtime.Goexit) writes them, so the hot path touches
// no cache line shared with other goroutines.
type workerState struct {
	succeeded atomic.Int64
	finished  atomic.Int64 // outcomes this worker reported (see accounting.reported)
	_         [128 - 16]byte
}

// cacheLinePad keeps the fields around it on separate cache lines.
type cacheLinePad [128]byte

// init sets up the counters of a queue with the given number of workers;
// onDrained is as documented on the field.
func (a *accounting) init(workers int, onDrained func()) {
	a.workers = make([]workerState, workers)
	a.sharded = workers <= maxShardedWorkers
	a.onDrained = onDrained
}

// enter counts a submission begun: it is outstanding until accept's job is
// reported, or until reject.
func (a *accounting) enter() { a.entered.Add(1) }

// accept counts, after the send, a job the buffer took. It keeps the job
// outstanding (see release).
func (a *accounting) accept() { a.accepted.Add(1) }

// reject counts a submission given up, which is no longer outstanding. Then
// see settledOne.
func (a *accounting) reject() {
	a.rejected.Add(1)
	a.settledOne()
}

// release counts the reported outcome of an accepted job, which is no longer
// outstanding: on worker w's own counter when called by a worker, on the
// shared one otherwise (w == nil). Then see settledOne.
func (a *accounting) release(w *workerState) {
	if w != nil && a.sharded {
		w.finished.Add(1)
	} else {
		a.settled.Add(1)
	}
	a.settledOne()
}

// countEnd counts a terminal outcome other than OutcomeSucceeded, which its
// worker counts on its own workerState.
func (a *accounting) countEnd(o Outcome) {
	switch o {
	case OutcomeFailed:
		a.failed.Add(1)
	case OutcomeCanceled:
		a.canceled.Add(1)
	case OutcomeDropped:
		a.dropped.Add(1)
	}
}

// settledOne follows the count of one job or submission no longer
// outstanding: if anyone watches, it wakes Wait and, after Close, runs
// onDrained once nothing is outstanding.
func (a *accounting) settledOne() {
	// The caller's add and the load below pair with wait's and closeIntake's
	// add to watch and their look at the counts (all sequentially
	// consistent): one of the two sides sees the other, so no wake-up is lost.
	if a.watch.Load() == 0 || a.outstanding() != 0 {
		return
	}
	a.idleMu.Lock()
	if a.outstanding() == 0 {
		if a.idle != nil {
			close(a.idle)
			a.idle = nil
		}
		a.maybeDrainLocked()
	}
	a.idleMu.Unlock()
}

// closeIntake records that no submission can begin any more; the caller has
// made every new one fail first. From then on the last outcome runs
// onDrained (at once, if nothing is outstanding). It may be called more than
// once.
func (a *accounting) closeIntake() {
	a.idleMu.Lock()
	if !a.intakeDone {
		a.intakeDone = true
		a.watch.Add(1) // from now on the last outcome must drain
	}
	a.maybeDrainLocked()
	a.idleMu.Unlock()
}

// wait blocks until nothing is outstanding, or until ctx ends.
func (a *accounting) wait(ctx context.Context) error {
	a.idleMu.Lock()
	// Announce the wait before looking at the counts: a job finishing
	// concurrently either is seen here or sees the announcement.
	a.watch.Add(1)
	defer a.watch.Add(-1)
	if a.outstanding() == 0 {
		a.idleMu.Unlock()
		return nil
	}
	if a.idle == nil {
		a.idle = make(chan struct{})
	}
	idle := a.idle
	a.idleMu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *accounting) maybeDrainLocked() {
	if a.intakeDone && !a.drained && a.outstanding() == 0 {
		a.drained = true
		a.onDrained()
	}
}

// outstanding returns the number of outstanding jobs and submissions. It
// reads every count that only grows as they end before the entered count:
// a result of zero means that nothing was outstanding at the moment entered
// was read, and the result is never below the number outstanding then.
func (a *accounting) outstanding() int64 {
	done := a.rejected.Load()
	done += a.reported()
	return a.entered.Load() - done
}

// reported returns the number of reported outcomes.
func (a *accounting) reported() int64 {
	n := a.settled.Load()
	if a.sharded {
		for i := range a.workers {
			n += a.workers[i].finished.Load()
		}
	}
	return n
}

// stats returns a snapshot of the counters (see Stats for its bounds).
// gauges reads Queued and Retrying into s; it is called after the reported
// outcomes are read and before the accepted jobs are.
func (a *accounting) stats(gauges func(s *Stats)) Stats {
	s := Stats{
		Failed:   a.failed.Load(),
		Canceled: a.canceled.Load(),
		Dropped:  a.dropped.Load(),
		Retries:  a.retries.Load(),
	}
	for i := range a.workers {
		s.Succeeded += a.workers[i].succeeded.Load()
	}
	// Jobs leave through reported, then Retrying and Queued; read them in
	// that order, and accepted, where they enter, last.
	reported := a.reported()
	gauges(&s)
	// A submitter counts its job just after the send, so a worker may report
	// the job first: every ended job was accepted, so the larger of the two
	// counts is still no more than the jobs accepted by now.
	s.Submitted = max(a.accepted.Load(), s.Succeeded+s.Failed+s.Canceled+s.Dropped)
	// The rest is running, or in OnResult.
	live := s.Submitted - reported - s.Queued - s.Retrying
	s.Running = min(int64(len(a.workers)), max(0, live))
	return s
}

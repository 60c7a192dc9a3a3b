package fetch

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
)

// lookaheadFactor bounds how far a batch reads ahead of its workers: at most
// lookaheadFactor × Options.Concurrency URLs wait for a busy host at once.
const lookaheadFactor = 4

// A dispatcher runs one batch (All or Stream). Its goroutine, the caller's,
// pulls URLs and hands each to one of at most Options.Concurrency workers,
// but only while fewer of the batch's URLs for that URL's host are in
// progress than the host's cap. The other URLs wait in a FIFO queue per
// host, and are handed out as that host's URLs finish, or wait out a
// retry's backoff (holding no slot meanwhile). So a worker never blocks
// waiting for a host's slot because of its own batch, except for a retry
// whose slot was taken during its backoff, and a slow or tightly capped
// host cannot take up the workers the other hosts need.
//
// Only the dispatcher's goroutine touches its fields, except jobs, done and
// wake, the channels to and from the workers, and batchHost.backingOffNow.
type dispatcher struct {
	f    *Fetcher
	ctx  context.Context
	next func() (string, bool) // the input; returns false at its end

	more       bool // next may return another URL
	index      int  // of the next URL pulled
	workers    int  // started so far
	inProgress int  // handed to workers and not yet back
	waiting    int  // in the hosts' queues
	maxWaiting int

	hosts map[string]*batchHost // hosts with URLs in progress or waiting
	ready []*batchHost          // hosts whose queue may go on, oldest first

	jobs chan batchJob   // buffered: a send never blocks
	done chan batchDone  // buffered: a worker goes on to its next job at once
	wake chan *batchHost // a URL of the host started a retry's backoff
	wg   sync.WaitGroup
}

// batchHost is a host's share of a batch.
type batchHost struct {
	key        string
	limit      int64      // the host's cap, read again for an adaptive one
	inProgress int        // the batch's URLs for it in progress
	queue      []batchJob // URLs for it waiting, in input order
	ready      bool       // on dispatcher.ready

	backingOffNow atomic.Int64      // URLs in progress waiting out a retry's backoff
	wake          chan<- *batchHost // dispatcher.wake
}

// backingOff counts h's URLs waiting out a retry's backoff, and wakes the
// dispatcher when one starts: its slot is free for the next URL meanwhile.
// Workers call it, through Fetcher.run.
func (h *batchHost) backingOff(waiting bool) {
	if !waiting {
		h.backingOffNow.Add(-1)
		return
	}
	h.backingOffNow.Add(1)
	select {
	case h.wake <- h:
	default: // full: the host gets its turn when one of its URLs finishes
	}
}

type batchJob struct {
	url   string
	index int
	host  *batchHost // nil if the URL has no valid host: not limited here
}

type batchDone struct {
	Result
	host *batchHost
}

// runBatch fetches the URLs next returns and passes each Result to yield
// as it arrives, until every URL has its Result or yield returns false.
// It starts up to Options.Concurrency workers, and they have all exited
// when it returns. When yield returns false, the URLs in progress are
// canceled and their Results dropped, and next is not called again.
func (f *Fetcher) runBatch(ctx context.Context, next func() (string, bool), yield func(Result) bool) {
	ctx, cancel := context.WithCancel(ctx)
	conc := f.cfg.Concurrency
	d := &dispatcher{f: f, ctx: ctx, next: next, more: true,
		maxWaiting: lookaheadFactor * conc,
		hosts:      make(map[string]*batchHost),
		jobs:       make(chan batchJob, conc),
		done:       make(chan batchDone, conc),
		wake:       make(chan *batchHost, conc),
	}
	defer func() {
		// Runs on a normal end, a break, and a panic in yield or next.
		cancel()
		close(d.jobs)
		for ; d.inProgress > 0; d.inProgress-- {
			<-d.done
		}
		d.wg.Wait()
	}()

	for d.dispatch(); d.inProgress > 0; d.dispatch() {
		select {
		case h := <-d.wake:
			d.markReady(h)
		case r := <-d.done:
			d.finished(r.host)
			// yield comes before the next dispatch: breaking out of a
			// Stream starts nothing more.
			if !yield(r.Result) {
				return
			}
		}
	}
}

// dispatch hands URLs to workers while one is free: first the queued URLs
// of hosts that have room again, then new URLs from the input, queuing
// those whose host is at its cap (or already has a queue: each host's URLs
// start in input order). It stops pulling input while maxWaiting URLs wait.
func (d *dispatcher) dispatch() {
	for d.inProgress < d.f.cfg.Concurrency {
		if h := d.nextReady(); h != nil {
			j := h.queue[0]
			h.queue[0] = batchJob{}
			h.queue = h.queue[1:]
			d.waiting--
			d.start(j)
			continue
		}
		if !d.more || d.waiting >= d.maxWaiting {
			return
		}
		raw, ok := d.next()
		if !ok {
			d.more = false
			return
		}
		j := batchJob{url: raw, index: d.index, host: d.hostOf(raw)}
		d.index++
		if h := j.host; h != nil && (len(h.queue) > 0 || d.full(h)) {
			h.queue = append(h.queue, j)
			d.waiting++
			continue
		}
		d.start(j)
	}
}

// start hands j to a worker, starting one if all are busy.
func (d *dispatcher) start(j batchJob) {
	if d.inProgress == d.workers {
		d.workers++
		d.wg.Go(d.work)
	}
	d.inProgress++
	if j.host != nil {
		j.host.inProgress++
	}
	d.jobs <- j
}

// work is a worker: it fetches the jobs it receives until jobs is closed.
func (d *dispatcher) work() {
	for j := range d.jobs {
		var backoff backoffObserver // nil, not a nil *batchHost
		if j.host != nil {
			backoff = j.host
		}
		d.done <- batchDone{d.f.get(d.ctx, j.url, j.index, backoff), j.host}
	}
}

// finished records that one of h's URLs is no longer in progress.
func (d *dispatcher) finished(h *batchHost) {
	d.inProgress--
	if h == nil {
		return
	}
	h.inProgress--
	d.markReady(h)
	d.forgetIdle(h)
}

// markReady puts h on d.ready if it has URLs waiting.
func (d *dispatcher) markReady(h *batchHost) {
	if len(h.queue) > 0 && !h.ready {
		h.ready = true
		d.ready = append(d.ready, h)
	}
}

// nextReady returns the first host of d.ready with a queued URL and room
// below its cap, dropping the hosts before it, or nil if there is none.
// A host left out still has URLs in progress; it is back on d.ready when
// one of them finishes.
func (d *dispatcher) nextReady() *batchHost {
	for len(d.ready) > 0 {
		h := d.ready[0]
		if len(h.queue) > 0 && !d.full(h) {
			return h
		}
		d.ready[0] = nil
		d.ready = d.ready[1:]
		h.ready = false
		d.forgetIdle(h)
	}
	return nil
}

// full reports whether h has as many URLs in progress, not counting those
// waiting out a retry's backoff, as its cap allows.
func (d *dispatcher) full(h *batchHost) bool {
	if h.inProgress == 0 {
		return false // every cap is at least 1
	}
	if d.f.cfg.Adaptive != nil {
		h.limit = d.f.hosts.Limit(h.key)
	}
	return int64(h.inProgress)-h.backingOffNow.Load() >= h.limit
}

// hostOf returns the batch's entry for rawURL's host, creating it, or nil
// if rawURL has no valid host: the worker then reports the error.
func (d *dispatcher) hostOf(rawURL string) *batchHost {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil
	}
	key := hostKey(u)
	h := d.hosts[key]
	if h == nil {
		h = &batchHost{key: key, limit: d.f.hosts.Limit(key), wake: d.wake}
		d.hosts[key] = h
	}
	return h
}

// forgetIdle deletes h from d.hosts once it has nothing in progress or
// waiting, so that the map stays as small as the work in hand. A host
// deleted is never used again: its key gets a new entry.
func (d *dispatcher) forgetIdle(h *batchHost) {
	if h.inProgress == 0 && len(h.queue) == 0 && !h.ready && d.hosts[h.key] == h {
		delete(d.hosts, h.key)
	}
}

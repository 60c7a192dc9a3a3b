package fetch

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// lookaheadFactor bounds how far a batch reads ahead of its workers: it
// pulls input only while fewer than lookaheadFactor × [Options.Concurrency] of
// its URLs wait, for a busy host or out a retry's backoff.
const lookaheadFactor = 4

// A dispatcher runs one batch (All or Stream). Its goroutine, the caller's,
// pulls URLs and hands each to one of at most [Options.Concurrency] workers,
// but only while fewer of the batch's URLs for that URL's host are in
// progress than the host's cap. The other URLs wait in a FIFO queue per
// host, and are handed out as that host's URLs finish. So a worker never
// blocks waiting for a host's slot because of its own batch, and a slow or
// tightly capped host cannot take up the workers the other hosts need.
//
// A worker makes one attempt of a URL (one retryState step). If the URL is
// to be retried, the worker hands it back and goes on: the dispatcher parks
// it in a heap ordered by due time, with one timer, and when it is due puts
// it at the front of its host's queue, ahead of the host's URLs not yet
// started. A parked URL holds no worker, no slot and no share of
// Concurrency.
//
// Only the dispatcher's goroutine touches its fields, except jobs and done,
// the channels to and from the workers.
type dispatcher struct {
	f    *Fetcher
	ctx  context.Context
	next func() (input, bool) // the input; returns false at its end

	more       bool // next may return another URL
	index      int  // of the next URL pulled
	workers    int  // started so far
	inProgress int  // handed to workers and not yet back
	waiting    int  // in the hosts' queues
	maxWaiting int  // input is pulled only while waiting + len(parked) is below it

	parked   []parkedJob // a min-heap by due time
	timer    *time.Timer // nil until the first URL is parked
	timerSet bool        // timer runs and fires at timerDue
	timerDue time.Time

	hosts map[string]*batchHost // hosts with URLs in progress, waiting or parked
	ready []*batchHost          // hosts whose queue may go on, oldest first

	jobs chan batchJob  // buffered: a send never blocks
	done chan batchDone // buffered: a worker goes on to its next job at once
	wg   sync.WaitGroup
}

// batchHost is a host's share of a batch.
type batchHost struct {
	key        string
	limit      int64      // the host's cap, read again for an adaptive one
	inProgress int        // the batch's URLs for it in progress
	queue      []batchJob // URLs for it waiting: due retries first, then the rest in input order
	retries    int        // due retries at the front of queue
	parked     int        // the batch's URLs for it waiting out a backoff
	ready      bool       // on dispatcher.ready
}

// input is one item of a batch: a URL to GET, or a request.
type input struct {
	url string
	req *http.Request // nil for a URL
}

type batchJob struct {
	url   string        // the URL, or the request's URL as Result.URL has it
	req   *http.Request // nil for a URL to GET
	index int
	host  *batchHost  // nil if the URL is invalid: it fails before its first attempt, so is never parked
	start time.Time   // when the batch took the URL from its input
	retry *retryState // nil until its first attempt asked for a retry
	// ctx is the context the request is sent with (the batch's, ended
	// also by a request's own context), and cancel releases it; both are
	// set by its first step.
	ctx    context.Context
	cancel context.CancelFunc
}

// batchDone is what a worker hands back: a final Result, or, if job.retry
// is set, a job to park for delay.
type batchDone struct {
	Result
	job   batchJob
	delay time.Duration
}

// parkedJob is a job waiting out a retry's backoff until due.
type parkedJob struct {
	due time.Time
	job batchJob
}

// runBatch fetches the URLs next returns and passes each Result to yield
// as it arrives, until every URL has its Result or yield returns false.
// It starts up to [Options.Concurrency] workers, and they have all exited
// when it returns. When yield returns false, the URLs in progress are
// canceled, they and the parked URLs get their Results (counted in Stats
// and passed to OnResult, not yielded), and next is not called again.
func (f *Fetcher) runBatch(ctx context.Context, next func() (input, bool), yield func(Result) bool) {
	ctx, cancel := context.WithCancel(ctx)
	conc := f.cfg.Concurrency
	d := &dispatcher{f: f, ctx: ctx, next: next, more: true,
		maxWaiting: lookaheadFactor * conc,
		hosts:      make(map[string]*batchHost),
		jobs:       make(chan batchJob, conc),
		done:       make(chan batchDone, conc),
	}
	defer func() {
		// Runs on a normal end, a break, and a panic in yield or next.
		cancel()
		close(d.jobs)
		for ; d.inProgress > 0; d.inProgress-- {
			if r := <-d.done; r.job.retry != nil {
				d.interrupt(r.job)
			}
		}
		d.wg.Wait()
		// Parked URLs, and due ones waiting for their host, have begun:
		// each ends with a Result. URLs never started have none.
		for len(d.parked) > 0 {
			d.interrupt(d.unpark())
		}
		for _, h := range d.hosts {
			for _, j := range h.queue[:h.retries] {
				d.interrupt(j)
			}
		}
		if d.timer != nil {
			d.timer.Stop()
		}
	}()

	for d.dispatch(); d.inProgress > 0 || len(d.parked) > 0; d.dispatch() {
		var due <-chan time.Time
		var ended <-chan struct{}
		if len(d.parked) > 0 {
			d.arm()
			due, ended = d.timer.C, ctx.Done()
		}
		select {
		case r := <-d.done:
			if r.job.retry != nil {
				d.park(r.job, r.delay)
				d.finished(r.job.host)
				continue
			}
			d.finished(r.job.host)
			// yield comes before the next dispatch: breaking out of a
			// Stream starts nothing more.
			if !yield(r.Result) {
				return
			}
		case <-due:
			d.timerSet = false
			d.requeueDue(time.Now())
		case <-ended:
			// Every parked URL ends now, with the context's error.
			for len(d.parked) > 0 {
				if !yield(d.interrupt(d.unpark())) {
					return
				}
			}
		}
	}
}

// dispatch hands URLs to workers while one is free: first the queued URLs
// of hosts that have room again (due retries first), then new URLs from
// the input, queuing those whose host is at its cap (or already has a
// queue: each host's URLs start in input order). It stops pulling input
// while maxWaiting URLs wait in queues or out a backoff.
func (d *dispatcher) dispatch() {
	for d.inProgress < d.f.cfg.Concurrency {
		if h := d.nextReady(); h != nil {
			j := h.queue[0]
			h.queue[0] = batchJob{}
			h.queue = h.queue[1:]
			if h.retries > 0 {
				h.retries--
			}
			d.waiting--
			d.start(j)
			continue
		}
		if !d.more || d.waiting+len(d.parked) >= d.maxWaiting {
			return
		}
		in, ok := d.next()
		if !ok {
			d.more = false
			return
		}
		j := batchJob{url: in.url, req: in.req, index: d.index, host: d.hostOf(in), start: time.Now()}
		if in.req != nil {
			j.url = requestURL(in.req)
		}
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

// work is a worker: it makes one step of each job it receives until jobs
// is closed.
func (d *dispatcher) work() {
	for j := range d.jobs {
		d.done <- d.step(j)
	}
}

// step makes j's next attempt. It returns the final Result, or j with its
// retryState and the backoff to park it for.
func (d *dispatcher) step(j batchJob) batchDone {
	f := d.f
	if s := j.retry; s != nil {
		if err := j.ctx.Err(); err != nil {
			return d.final(j, s.interrupted(err))
		}
		res, delay, final := f.step(j.ctx, s)
		if !final {
			return batchDone{job: j, delay: delay}
		}
		return d.final(j, res)
	}
	f.begin()
	var s retryState // on the stack: only a URL to retry moves to the heap
	var res Result
	var ok bool
	if j.req == nil {
		j.ctx, j.cancel = d.ctx, noCancel
		res, ok = f.openGet(d.ctx, &s, j.url, j.start)
	} else {
		j.ctx, j.cancel, res, ok = f.openRequest(d.ctx, &s, j.req, j.start)
	}
	if ok {
		var delay time.Duration
		var final bool
		if res, delay, final = f.step(j.ctx, &s); !final {
			j.retry = new(retryState)
			*j.retry = s
			return batchDone{job: j, delay: delay}
		}
	}
	return d.final(j, res)
}

// final returns j's final Result res, releasing j's context.
func (d *dispatcher) final(j batchJob, res Result) batchDone {
	j.retry = nil
	j.cancel()
	return batchDone{Result: d.f.finish(res, j.url, j.index, j.start), job: j}
}

// park holds j, which holds no worker or slot, until delay has passed.
func (d *dispatcher) park(j batchJob, delay time.Duration) {
	d.parked = append(d.parked, parkedJob{due: time.Now().Add(delay), job: j})
	for i := len(d.parked) - 1; i > 0; {
		up := (i - 1) / 2
		if !d.parked[i].due.Before(d.parked[up].due) {
			break
		}
		d.parked[i], d.parked[up] = d.parked[up], d.parked[i]
		i = up
	}
	j.host.parked++
	d.f.stats.backingOff.Add(1)
}

// unpark removes and returns the parked job due first.
func (d *dispatcher) unpark() batchJob {
	h := d.parked
	j := h[0].job
	last := len(h) - 1
	h[0] = h[last]
	h[last] = parkedJob{}
	h = h[:last]
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1].due.Before(h[c].due) {
			c++
		}
		if !h[c].due.Before(h[i].due) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	d.parked = h
	j.host.parked--
	d.f.stats.backingOff.Add(-1)
	return j
}

// arm sets the timer to fire when the first parked job is due.
func (d *dispatcher) arm() {
	due := d.parked[0].due
	switch {
	case d.timer == nil:
		d.timer = time.NewTimer(time.Until(due))
	case !d.timerSet || !due.Equal(d.timerDue):
		d.timer.Reset(time.Until(due))
	default:
		return
	}
	d.timerSet, d.timerDue = true, due
}

// requeueDue moves the parked jobs due by now to the front of their
// hosts' queues, behind the retries already there.
func (d *dispatcher) requeueDue(now time.Time) {
	for len(d.parked) > 0 && !d.parked[0].due.After(now) {
		j := d.unpark()
		d.waiting++
		h := j.host
		h.queue = slices.Insert(h.queue, h.retries, j)
		h.retries++
		d.markReady(h)
	}
}

// interrupt ends j, taken back from a worker or the heap once the batch's
// context has ended, with that context's error, and returns its Result.
func (d *dispatcher) interrupt(j batchJob) Result {
	r := d.f.finish(j.retry.interrupted(d.ctx.Err()), j.url, j.index, j.start)
	j.cancel()
	d.forgetIdle(j.host)
	return r
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

// full reports whether h has as many URLs in progress as its cap allows.
// Its parked URLs hold no slot and do not count.
func (d *dispatcher) full(h *batchHost) bool {
	if h.inProgress == 0 {
		return false // every cap is at least 1
	}
	if d.f.cfg.Adaptive != nil {
		h.limit = d.f.hosts.Limit(h.key)
	}
	return int64(h.inProgress) >= h.limit
}

// hostOf returns the batch's entry for in's host, creating it, or nil if
// in is invalid (checkURL, as in Fetcher.open, or checkRequest): the
// worker then reports the error.
func (d *dispatcher) hostOf(in input) *batchHost {
	var u *url.URL
	if in.req != nil {
		if checkRequest(in.req) != nil {
			return nil
		}
		u = in.req.URL
	} else if p, err := url.Parse(in.url); err != nil || checkURL(p) != nil {
		return nil
	} else {
		u = p
	}
	key := hostKey(u)
	h := d.hosts[key]
	if h == nil {
		h = &batchHost{key: key, limit: d.f.hosts.Limit(key)}
		d.hosts[key] = h
	}
	return h
}

// forgetIdle deletes h from d.hosts once it has nothing in progress,
// waiting or parked, so that the map stays as small as the work in hand.
// A host deleted is never used again: its key gets a new entry.
func (d *dispatcher) forgetIdle(h *batchHost) {
	if h.inProgress == 0 && len(h.queue) == 0 && h.parked == 0 && !h.ready && d.hosts[h.key] == h {
		delete(d.hosts, h.key)
	}
}

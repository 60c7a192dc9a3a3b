package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

// Headers set on a dead letter, besides the job's own headers and payload.
const (
	HeaderError    = "Jsqueue-Error"    // the final error's text (one line, at most 1 KiB)
	HeaderID       = "Jsqueue-Id"       // Delivery.ID
	HeaderStream   = "Jsqueue-Stream"   // the work stream
	HeaderSeq      = "Jsqueue-Seq"      // the job's sequence in the work stream
	HeaderAttempts = "Jsqueue-Attempts" // Delivery.Attempt of the last attempt
)

// DefaultRetry returns the policy a nil Options.Retry (or
// ProducerOptions.Retry) stands for: retry's zero Policy, 5 attempts with
// full-jitter exponential backoff from 100ms up to 10s.
func DefaultRetry() *retry.Policy { return workqueue.DefaultRetry() }

// Limits on Options.
const (
	MaxWorkers  = workqueue.MaxWorkers
	MaxPrefetch = 1 << 16
)

// Options configures a [Worker]. The zero value is valid. The fields shared
// with workqueue.Options mean the same, except where said.
type Options[T any] struct {
	// Workers is the number of handler goroutines, at most MaxWorkers. Zero
	// means runtime.GOMAXPROCS(0).
	Workers int

	// Prefetch is how many deliveries the worker holds beyond those running,
	// fetched ahead so that a free handler need not wait for the server
	// (their leases are kept with heartbeats too). The worker never holds
	// more than Workers+Prefetch deliveries: that, with the size of the
	// jobs, bounds its memory. Zero means Workers; -1 means none.
	Prefetch int

	// Retry decides, after a failed attempt, between a redelivery after a
	// delay (NakWithDelay: the job holds no worker while it waits) and the
	// dead letter. Its attempt numbers are Delivery.Attempt, and the elapsed
	// time counts from when the job was published. Nil means DefaultRetry();
	// retry.NoRetry() dead-letters at the first failure. Whatever the policy,
	// the last delivery Config.MaxDeliver allows is dead-lettered if it
	// fails. The policy is copied by New; its hooks run on a worker
	// goroutine.
	Retry *retry.Policy

	// AttemptTimeout, if positive, is one attempt's time limit, as in
	// workqueue. It may exceed the consumer's AckWait: heartbeats keep the
	// lease.
	AttemptTimeout time.Duration

	// Heartbeat is the interval of the InProgress heartbeats that keep the
	// lease of every delivery the worker holds, running or prefetched. Zero
	// means a third of the consumer's AckWait; it must be below 90% of it.
	Heartbeat time.Duration

	// Codec decodes jobs. Nil means JSONCodec[T]. A payload that does not
	// decode is dead-lettered at once (its Err wraps ErrUndecodable).
	Codec Codec[T]

	// OnResult, if non-nil, receives the Result of every delivery the
	// worker fetched, once, after it was settled (or abandoned). It is
	// called from the worker's goroutines, possibly concurrently, and from
	// the goroutine calling Shutdown. A panic in it is recovered and logged.
	OnResult func(Result[T])

	// Logger receives the rare events worth a human's attention: handler
	// panics, dead letters, abandoned leases, failed settles and fetches,
	// forced shutdowns. Nil means no logging.
	Logger *slog.Logger
}

// Stats counts what a [Worker] did since New. Fetched = Succeeded + Failed +
// Retrying + Released + Abandoned + Held at any moment of quiescence.
type Stats struct {
	Fetched   int64 // deliveries received
	Held      int64 // deliveries fetched and not yet settled (running or prefetched)
	Running   int64 // handlers running now
	Succeeded int64
	Failed    int64 // dead-lettered
	Retrying  int64 // negatively acknowledged with a delay
	Released  int64 // given back at shutdown
	Abandoned int64 // lease passed or settle not sent
}

// delivery states.
const (
	stQueued int32 = iota
	stRunning
	stDone
)

// delivery is one fetched message, held from its fetch to its settle.
type delivery[T any] struct {
	msg       jetstream.Msg
	job       T
	info      Delivery
	decodeErr error
	state     atomic.Int32

	mu       sync.Mutex
	leaseEnd time.Time // the local lease: settle only before it
	lastBeat time.Time // when the last confirmed heartbeat (or the fetch) was sent
	cancel   context.CancelCauseFunc
}

// leaseValid reports whether d's lease is still held at now.
func (d *delivery[T]) leaseValid(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return now.Before(d.leaseEnd)
}

// errLeaseBeforeStart fails a delivery whose lease passed before a handler
// was free to start it.
var errLeaseBeforeStart = fmt.Errorf("%w before the handler started", ErrLeaseExpired)

// Worker fetches jobs from a queue's durable consumer and runs them on a
// local workqueue.Queue, settling each delivery with the server: Ack on
// success, NakWithDelay for a retry, a copy in the dead-letter stream plus
// Term for a dead letter. Create one with [New]; any number of Workers, in
// any number of processes, may share a queue. Its methods are safe for
// concurrent use.
//
// A Worker owns its goroutines: one fetching, one keeping leases (sending
// heartbeats), and those of its local workqueue (Workers goroutines; it
// makes one attempt per delivery, so it starts no retry scheduler). [Worker.Shutdown] returns after all of them have exited; after
// [Worker.Close] they exit once the deliveries held are settled. The Worker
// uses, and never closes, the caller's JetStream context and connection.
type Worker[T any] struct {
	cfg        Config
	js         jetstream.JetStream
	nc         *nats.Conn
	cons       jetstream.Consumer
	handler    func(context.Context, T) error
	codec      Codec[T]
	policy     *retry.Policy
	onResult   func(Result[T])
	logger     *slog.Logger
	maxDeliver int
	lease      time.Duration // the local lease: 90% of AckWait
	heartbeat  time.Duration
	fetchWait  time.Duration

	q     *workqueue.Queue[*delivery[T]]
	slots chan struct{} // one token per delivery held

	mu   sync.Mutex
	held map[*delivery[T]]struct{}

	stop       chan struct{} // closed by Close: stop fetching
	stopOne    sync.Once
	fetchDone  chan struct{}
	keeperStop chan struct{}
	keeperOne  sync.Once
	keeperDone chan struct{}
	noBeats    atomic.Bool // tests only: send no heartbeats

	stats struct {
		fetched, running, succeeded, failed, retrying, released, abandoned atomic.Int64
	}
}

// New starts a Worker for the queue cfg describes, which must have been
// provisioned (see [Provision]): New reads the consumer's AckWait and
// MaxDeliver from the server within ctx, and returns its error if the
// consumer does not exist. For a bad field of cfg or opts it returns an error
// wrapping [ErrInvalidOptions] and starts nothing. New panics if js or
// handler is nil.
//
// The handler is called once per delivery, on one of opts.Workers
// goroutines. Its context carries the [Delivery] ([DeliveryOf], [Attempt])
// and ends when the attempt's AttemptTimeout expires, when the delivery's
// lease is lost (cause ErrLeaseExpired: the job is being redelivered), or
// when a forced Shutdown cancels it. A nil return is success; an error is a
// failed attempt, decided by opts.Retry (wrap it with retry.Permanent to
// dead-letter at once). A panic or runtime.Goexit is a failed attempt too.
// Delivery is at least once: a job may run again after a crash, a lost
// lease or a lost acknowledgement, so handlers must be idempotent (key on
// Delivery.ID).
func New[T any](ctx context.Context, js jetstream.JetStream, cfg Config, handler func(ctx context.Context, job T) error, opts Options[T]) (*Worker[T], error) {
	if js == nil {
		panic("jsqueue: New with nil JetStream")
	}
	if handler == nil {
		panic("jsqueue: New with nil handler")
	}
	c, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	switch {
	case opts.Workers < 0 || opts.Workers > MaxWorkers:
		return nil, invalid("Options.Workers = %d, want 0 (default) to %d", opts.Workers, MaxWorkers)
	case opts.Prefetch < -1 || opts.Prefetch > MaxPrefetch:
		return nil, invalid("Options.Prefetch = %d, want -1 (none), 0 (default) to %d", opts.Prefetch, MaxPrefetch)
	case opts.AttemptTimeout < 0:
		return nil, invalid("Options.AttemptTimeout = %v, want 0 (none) or more", opts.AttemptTimeout)
	case opts.Heartbeat < 0:
		return nil, invalid("Options.Heartbeat = %v, want 0 (default) or more", opts.Heartbeat)
	}
	if opts.Retry != nil {
		if err := opts.Retry.Validate(); err != nil {
			return nil, invalid("Options.Retry: %w", err)
		}
	}
	cons, err := js.Consumer(ctx, c.Stream, c.Consumer)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: consumer %s on stream %s (call Provision first): %w", c.Consumer, c.Stream, err)
	}
	info := cons.CachedInfo()
	ackWait := info.Config.AckWait
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	w := &Worker[T]{
		cfg:        c,
		js:         js,
		nc:         js.Conn(),
		cons:       cons,
		handler:    handler,
		codec:      opts.Codec,
		onResult:   opts.OnResult,
		logger:     opts.Logger,
		maxDeliver: info.Config.MaxDeliver,
		lease:      ackWait * 9 / 10,
		heartbeat:  opts.Heartbeat,
		held:       make(map[*delivery[T]]struct{}),
		stop:       make(chan struct{}),
		fetchDone:  make(chan struct{}),
		keeperStop: make(chan struct{}),
		keeperDone: make(chan struct{}),
	}
	if w.heartbeat == 0 {
		w.heartbeat = ackWait / 3
	}
	if w.heartbeat >= w.lease {
		return nil, invalid("Options.Heartbeat = %v, want below 90%% of the consumer's AckWait (%v)", opts.Heartbeat, ackWait)
	}
	// The lease of a delivery counts from the start of the fetch that
	// brought it, so a fetch waits only a small part of it.
	w.fetchWait = min(max(ackWait/5, 20*time.Millisecond), time.Second)
	if w.codec == nil {
		w.codec = JSONCodec[T]{}
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retry == nil {
		w.policy = DefaultRetry()
	} else {
		p := *opts.Retry
		w.policy = &p
	}
	workers := opts.Workers
	if workers == 0 {
		workers = min(runtime.GOMAXPROCS(0), MaxWorkers)
	}
	prefetch := opts.Prefetch
	switch prefetch {
	case 0:
		prefetch = workers
	case -1:
		prefetch = 0
	}
	w.slots = make(chan struct{}, workers+prefetch)
	// The local queue makes one attempt per delivery: retries go through
	// the server (NakWithDelay), decided in settle.
	once := *retry.NoRetry()
	once.Retryable = func(error) bool { return false } // the error as is, not a *retry.Error
	w.q, err = workqueue.New(w.execute, workqueue.Options[*delivery[T]]{
		Workers:        workers,
		Capacity:       workers + prefetch,
		Retry:          &once,
		AttemptTimeout: opts.AttemptTimeout,
		OnResult:       w.settle,
		Logger:         opts.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	go w.fetch()
	go w.keep()
	return w, nil
}

// Close stops fetching: a pull in flight is not canceled, but what it
// brings from then on is released (OutcomeReleased) as soon as it ends. The
// deliveries already held run and are settled in the background; the
// worker's goroutines then exit. Use Shutdown to wait for that, and to
// release at once the deliveries not yet started. Close does not block, and
// may be called more than once.
func (w *Worker[T]) Close() {
	w.stopOne.Do(func() { close(w.stop) })
}

// Shutdown stops fetching (it waits for a pull in flight to end, at most
// about two seconds, even if ctx ends), releases at once every delivery
// fetched but not started (Nak without delay: OutcomeReleased, so that it
// runs elsewhere now rather than after AckWait), and waits for the running
// handlers to return and their deliveries to be settled, keeping their
// leases meanwhile. Then it returns nil, after every goroutine of the worker
// has exited and the settles were flushed to the server.
//
// If ctx ends first, Shutdown cancels the running handlers' contexts; a
// handler that then returns an error, or overruns its AttemptTimeout, is
// released (OutcomeReleased, Err matching ErrShutdown), one that returns nil
// in time is acknowledged. Shutdown then returns an error matching
// [ErrShutdown] and ctx.Err(), but only once every handler has returned: a
// handler that ignores its context delays Shutdown for as long as it runs.
// Shutdown may be called more than once; a handler must not call it.
func (w *Worker[T]) Shutdown(ctx context.Context) error {
	w.Close()
	<-w.fetchDone // within the fetch wait (at most 1s) plus 1s
	w.releaseQueued()
	qerr := w.q.Shutdown(ctx)
	w.keeperOne.Do(func() { close(w.keeperStop) })
	<-w.keeperDone
	fctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := w.nc.FlushWithContext(fctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		w.logger.Warn("jsqueue: flushing settles at shutdown", "err", err)
	}
	if qerr != nil {
		return fmt.Errorf("%w: %w", ErrShutdown, ctx.Err())
	}
	return nil
}

// Stats returns a snapshot of the worker's counters.
func (w *Worker[T]) Stats() Stats {
	w.mu.Lock()
	held := int64(len(w.held))
	w.mu.Unlock()
	return Stats{
		Fetched:   w.stats.fetched.Load(),
		Held:      held,
		Running:   w.stats.running.Load(),
		Succeeded: w.stats.succeeded.Load(),
		Failed:    w.stats.failed.Load(),
		Retrying:  w.stats.retrying.Load(),
		Released:  w.stats.released.Load(),
		Abandoned: w.stats.abandoned.Load(),
	}
}

// fetch is the fetching goroutine: it pulls as many deliveries as there are
// free slots, and hands them to the local queue. When it stops it closes the
// local queue's intake.
func (w *Worker[T]) fetch() {
	defer close(w.fetchDone)
	defer w.q.Close()
	pause := time.Duration(0)
	for {
		// Take at least one slot, then every free one.
		select {
		case w.slots <- struct{}{}:
		case <-w.stop:
			return
		}
		n := 1
	more:
		for n < cap(w.slots) {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		select {
		case <-w.stop:
			w.freeSlots(n)
			return
		default:
		}
		got, err := w.fetchBatch(n)
		w.freeSlots(n - got)
		if err == nil || got > 0 {
			pause = 0
			continue
		}
		pause = min(max(2*pause, 50*time.Millisecond), 2*time.Second)
		w.logger.Warn("jsqueue: fetch failed; trying again", "err", err, "pause", pause)
		t := time.NewTimer(pause)
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			return
		}
	}
}

func (w *Worker[T]) freeSlots(n int) {
	for range n {
		<-w.slots
	}
}

// fetchBatch makes one pull of up to n deliveries, and returns how many it
// got.
func (w *Worker[T]) fetchBatch(n int) (int, error) {
	start := time.Now() // no delivery of this pull was sent before it
	// Not FetchContext: when its context ends, nats.go drops deliveries
	// already received, which then wait out AckWait. With FetchMaxWait the
	// pull ends with the server's timeout status, after every delivery.
	batch, err := w.cons.Fetch(n, jetstream.FetchMaxWait(w.fetchWait))
	if err != nil {
		return 0, err
	}
	got := 0
	var late []*delivery[T]
	for msg := range batch.Messages() {
		got++
		if d := w.accept(msg, start); d != nil {
			late = append(late, d)
		}
	}
	// Released only now that the pull has ended: released while it was open,
	// a delivery would come straight back to it, using up deliveries.
	for _, d := range late {
		w.finish(d, w.release(d, nil))
	}
	err = batch.Error()
	if err != nil && (errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages)) {
		err = nil
	}
	return got, err
}

// accept takes in one fetched message, whose pull started at start. It
// returns the delivery if Close was called meanwhile: the caller releases it.
func (w *Worker[T]) accept(msg jetstream.Msg, start time.Time) *delivery[T] {
	w.stats.fetched.Add(1)
	d := &delivery[T]{msg: msg, leaseEnd: start.Add(w.lease), lastBeat: start}
	if meta, err := msg.Metadata(); err == nil {
		d.info = Delivery{Stream: meta.Stream, Seq: meta.Sequence.Stream, Attempt: int(meta.NumDelivered), Published: meta.Timestamp}
	} else {
		d.info = Delivery{Stream: w.cfg.Stream, Attempt: 1}
	}
	d.info.ID = msg.Headers().Get(jetstream.MsgIDHeader)
	if d.info.ID == "" {
		d.info.ID = d.info.Stream + "-" + strconv.FormatUint(d.info.Seq, 10)
	}
	if job, err := w.codec.Decode(msg.Data()); err != nil {
		d.decodeErr = fmt.Errorf("%w: %w", ErrUndecodable, err)
	} else {
		d.job = job
	}
	w.mu.Lock()
	w.held[d] = struct{}{}
	w.mu.Unlock()
	select {
	case <-w.stop:
		// Close was called while the pull was in flight: give it back.
		d.state.Store(stDone)
		return d
	default:
	}
	// The local buffer holds every slot, so this never finds it full; the
	// intake is closed only by this goroutine, after its last call.
	if err := w.q.TrySubmit(d); err != nil {
		w.logger.Error("jsqueue: local queue refused a delivery", "err", err)
		if d.state.CompareAndSwap(stQueued, stDone) {
			w.finish(d, w.release(d, err))
		}
	}
	return nil
}

// execute is the local queue's handler.
func (w *Worker[T]) execute(ctx context.Context, d *delivery[T]) error {
	if !d.state.CompareAndSwap(stQueued, stRunning) {
		return nil // released by Shutdown before it started
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d.mu.Lock()
	if !time.Now().Before(d.leaseEnd) {
		d.mu.Unlock()
		return errLeaseBeforeStart
	}
	d.cancel = cancel
	d.mu.Unlock()
	if d.decodeErr != nil {
		return retry.Permanent(d.decodeErr)
	}
	w.stats.running.Add(1)
	defer w.stats.running.Add(-1)
	return w.handler(context.WithValue(ctx, deliveryKey{}, &d.info), d.job)
}

// settle is the local queue's OnResult: it settles a delivery with the
// server and reports it.
func (w *Worker[T]) settle(r workqueue.Result[*delivery[T]]) {
	d := r.Job
	from := stRunning
	if r.Outcome == workqueue.OutcomeDropped {
		from = stQueued
	}
	if !d.state.CompareAndSwap(from, stDone) {
		return // released by Shutdown before it started: already reported
	}
	var res Result[T]
	switch r.Outcome {
	case workqueue.OutcomeSucceeded:
		res = w.ack(d)
	case workqueue.OutcomeFailed:
		res = w.fail(d, r.Err)
	default: // canceled or dropped by a forced Shutdown
		res = w.release(d, r.Err)
	}
	w.finish(d, res)
}

// finish forgets d and reports res.
func (w *Worker[T]) finish(d *delivery[T], res Result[T]) {
	w.mu.Lock()
	delete(w.held, d)
	w.mu.Unlock()
	<-w.slots
	switch res.Outcome {
	case OutcomeSucceeded:
		w.stats.succeeded.Add(1)
	case OutcomeFailed:
		w.stats.failed.Add(1)
	case OutcomeRetrying:
		w.stats.retrying.Add(1)
	case OutcomeReleased:
		w.stats.released.Add(1)
	case OutcomeAbandoned:
		w.stats.abandoned.Add(1)
		w.logger.Warn("jsqueue: delivery abandoned; the server will redeliver it", "id", d.info.ID, "seq", d.info.Seq, "attempt", d.info.Attempt, "err", res.Err)
	}
	if w.onResult == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			w.logger.Error("jsqueue: OnResult panicked", "panic", p, "outcome", res.Outcome.String())
		}
	}()
	w.onResult(res)
}

func (w *Worker[T]) result(d *delivery[T], o Outcome, err error) Result[T] {
	return Result[T]{Job: d.job, Delivery: d.info, Outcome: o, Err: err}
}

// abandoned is the result of a delivery whose lease passed.
func (w *Worker[T]) abandoned(d *delivery[T], err error) Result[T] {
	if err == nil || !errors.Is(err, ErrLeaseExpired) {
		if err == nil {
			err = ErrLeaseExpired
		} else {
			err = fmt.Errorf("%w: %w", ErrLeaseExpired, err)
		}
	}
	return w.result(d, OutcomeAbandoned, err)
}

// ack acknowledges a delivery whose handler succeeded.
func (w *Worker[T]) ack(d *delivery[T]) Result[T] {
	if !d.leaseValid(time.Now()) {
		return w.abandoned(d, nil)
	}
	if err := d.msg.Ack(); err != nil {
		return w.result(d, OutcomeAbandoned, fmt.Errorf("jsqueue: ack: %w", err))
	}
	return w.result(d, OutcomeSucceeded, nil)
}

// release gives a delivery back at once (Nak).
func (w *Worker[T]) release(d *delivery[T], cause error) Result[T] {
	err := ErrShutdown
	if cause != nil {
		err = fmt.Errorf("%w: %w", ErrShutdown, cause)
	}
	if !d.leaseValid(time.Now()) {
		return w.abandoned(d, err)
	}
	if nerr := d.msg.Nak(); nerr != nil {
		return w.result(d, OutcomeAbandoned, fmt.Errorf("jsqueue: nak: %w (released: %w)", nerr, err))
	}
	return w.result(d, OutcomeReleased, err)
}

// fail settles a failed attempt: a redelivery after the policy's delay, or
// the dead letter.
func (w *Worker[T]) fail(d *delivery[T], err error) Result[T] {
	if errors.Is(err, errLeaseBeforeStart) || !d.leaseValid(time.Now()) {
		return w.abandoned(d, err)
	}
	attempt := max(d.info.Attempt, 1)
	delay, stop := w.next(err, attempt, d.info.Published)
	if stop == nil && w.maxDeliver > 0 && attempt >= w.maxDeliver {
		stop = &retry.Error{Reason: retry.ErrExhausted, Last: err, Attempts: attempt}
	}
	if stop == nil {
		if nerr := d.msg.NakWithDelay(delay); nerr != nil {
			return w.result(d, OutcomeAbandoned, fmt.Errorf("jsqueue: nak: %w (attempt failed: %w)", nerr, err))
		}
		res := w.result(d, OutcomeRetrying, err)
		res.Delay = delay
		return res
	}
	return w.deadLetter(d, stop)
}

// next asks the retry policy what follows a failed attempt, recovering a
// panic in its hooks as a final *PanicError.
func (w *Worker[T]) next(err error, attempt int, published time.Time) (delay time.Duration, stop error) {
	defer func() {
		if r := recover(); r != nil {
			w.logger.Error("jsqueue: retry policy hook panicked", "panic", r)
			delay, stop = 0, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	var elapsed time.Duration
	if !published.IsZero() {
		elapsed = max(time.Since(published), 0)
	}
	prev := time.Duration(0)
	if attempt > 1 {
		prev = w.policy.Base(attempt - 1)
	}
	// Not the worker's context: a shutdown must not turn a retry into a
	// dead letter.
	return w.policy.Next(context.Background(), err, attempt, prev, elapsed)
}

// deadLetterRetry is the delay before a job whose dead letter could not be
// stored is tried again.
const deadLetterRetry = time.Second

// deadLetter stores a copy of the job in the dead-letter stream, then
// terminates the delivery. If the copy cannot be stored, the job is
// redelivered later instead (nothing is lost). The copy's Nats-Msg-Id is
// derived from the job's sequence, so a repeat within the window is
// discarded.
func (w *Worker[T]) deadLetter(d *delivery[T], final error) Result[T] {
	msg := nats.NewMsg(w.cfg.DeadLetterSubject)
	msg.Data = d.msg.Data()
	for k, v := range d.msg.Headers() {
		msg.Header[k] = v
	}
	msg.Header.Set(HeaderError, headerText(final.Error()))
	msg.Header.Set(HeaderID, d.info.ID)
	msg.Header.Set(HeaderStream, d.info.Stream)
	msg.Header.Set(HeaderSeq, strconv.FormatUint(d.info.Seq, 10))
	msg.Header.Set(HeaderAttempts, strconv.Itoa(d.info.Attempt))
	msg.Header.Set(jetstream.MsgIDHeader, "dlq-"+d.info.Stream+"-"+strconv.FormatUint(d.info.Seq, 10))
	d.mu.Lock()
	deadline := d.leaseEnd
	d.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := w.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(w.cfg.DeadLetterStream)); err != nil {
		w.logger.Error("jsqueue: dead letter not stored; the job will be delivered again", "id", d.info.ID, "err", err, "final", final)
		if !d.leaseValid(time.Now()) {
			return w.abandoned(d, final)
		}
		if nerr := d.msg.NakWithDelay(deadLetterRetry); nerr != nil {
			return w.result(d, OutcomeAbandoned, fmt.Errorf("jsqueue: nak: %w (dead letter not stored: %w)", nerr, err))
		}
		res := w.result(d, OutcomeRetrying, fmt.Errorf("jsqueue: dead letter not stored: %w (final error: %w)", err, final))
		res.Delay = deadLetterRetry
		return res
	}
	if !d.leaseValid(time.Now()) {
		return w.abandoned(d, final)
	}
	if err := d.msg.TermWithReason("dead-lettered"); err != nil {
		return w.result(d, OutcomeAbandoned, fmt.Errorf("jsqueue: term: %w (dead-lettered: %w)", err, final))
	}
	w.logger.Warn("jsqueue: job dead-lettered", "id", d.info.ID, "seq", d.info.Seq, "attempt", d.info.Attempt, "err", final)
	return w.result(d, OutcomeFailed, final)
}

// headerText makes s fit a header value: one line, at most 1 KiB.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// releaseQueued releases every delivery held but not started.
func (w *Worker[T]) releaseQueued() {
	w.mu.Lock()
	var queued []*delivery[T]
	for d := range w.held {
		if d.state.Load() == stQueued {
			queued = append(queued, d)
		}
	}
	w.mu.Unlock()
	for _, d := range queued {
		if d.state.CompareAndSwap(stQueued, stDone) {
			w.finish(d, w.release(d, nil))
		}
	}
}

// keep is the lease keeper: every half heartbeat it sends an InProgress
// heartbeat, as a request whose reply confirms the server got it, for each
// delivery held whose last one is a heartbeat old, and cancels the handler
// of a delivery whose lease has passed. It exits when stopped by Shutdown,
// or once fetching has stopped and nothing is held.
func (w *Worker[T]) keep() {
	defer close(w.keeperDone)
	t := time.NewTicker(max(w.heartbeat/2, time.Millisecond))
	defer t.Stop()
	var wg sync.WaitGroup
	for {
		select {
		case <-t.C:
		case <-w.keeperStop:
			return
		}
		w.mu.Lock()
		ds := make([]*delivery[T], 0, len(w.held))
		for d := range w.held {
			ds = append(ds, d)
		}
		w.mu.Unlock()
		if len(ds) == 0 {
			select {
			case <-w.fetchDone:
				if w.q.Stats().Running == 0 {
					return
				}
			default:
			}
		}
		now := time.Now()
		for _, d := range ds {
			d.mu.Lock()
			due, lost, cancel := now.Sub(d.lastBeat) >= w.heartbeat, !now.Before(d.leaseEnd), d.cancel
			d.mu.Unlock()
			switch {
			case lost:
				if cancel != nil && d.state.Load() == stRunning {
					cancel(ErrLeaseExpired)
				}
			case due && d.state.Load() != stDone && !w.noBeats.Load():
				wg.Go(func() { w.beat(d) })
			}
		}
		wg.Wait()
	}
}

var progressBody = []byte("+WPI")

// beat sends one heartbeat for d and extends its lease once the server
// confirms it.
func (w *Worker[T]) beat(d *delivery[T]) {
	sent := time.Now()
	d.mu.Lock()
	deadline := d.leaseEnd
	d.mu.Unlock()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := w.nc.RequestWithContext(ctx, d.msg.Reply(), progressBody); err != nil {
		w.logger.Debug("jsqueue: heartbeat not confirmed", "id", d.info.ID, "err", err)
		return
	}
	d.mu.Lock()
	if end := sent.Add(w.lease); end.After(d.leaseEnd) {
		d.leaseEnd = end
		d.lastBeat = sent
	}
	d.mu.Unlock()
}

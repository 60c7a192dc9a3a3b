package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/sluicego/sluice/internal/clock"
	"github.com/sluicego/sluice/retry"
)

// Defaults for zero fields of [ProducerOptions].
const (
	DefaultBatchWindow = 256
	DefaultStallWait   = 200 * time.Millisecond
)

// fullPollMax caps the wait between two tries at a full stream.
const fullPollMax = 500 * time.Millisecond

// ProducerOptions configures a [Producer]. The zero value is valid.
type ProducerOptions[T any] struct {
	// Codec encodes jobs. Nil means JSONCodec[T].
	Codec Codec[T]

	// Key returns a job's idempotency key, sent as the Nats-Msg-Id header:
	// the server discards a second job with the same key within
	// Config.Duplicates, and handlers see it as Delivery.ID. Nil, or an
	// empty key, means a fresh unique ID per Submit call (and per job of a
	// SubmitBatch), which still makes the producer's own retries of that
	// call safe but does not dedup two calls.
	Key func(job T) string

	// Retry is the policy for publishes that fail for a transient reason
	// (no JetStream responder, a timeout, a broken connection being
	// re-established): the same message, with the same Nats-Msg-Id, is
	// published again after the policy's backoff, so a retry can never add
	// a second copy within the Duplicates window. A full stream is not a
	// failure: Submit waits for room without using up attempts. Nil means
	// DefaultRetry(); retry.NoRetry() turns retries off.
	Retry *retry.Policy

	// BatchWindow is how many asynchronous publishes SubmitBatch keeps in
	// flight before waiting for their acknowledgements. Zero means
	// DefaultBatchWindow (256).
	BatchWindow int

	// StallWait is how long one asynchronous publish of SubmitBatch may wait
	// for the JetStream context's pending-acknowledgement window
	// (jetstream.WithPublishAsyncMaxPending) before nats.go gives up with
	// ErrTooManyStalledMsgs; SubmitBatch then waits for pending publishes to
	// complete and publishes that job again. Zero means DefaultStallWait.
	StallWait time.Duration
}

// ProducerStats counts what a [Producer] met, since it was created.
type ProducerStats struct {
	Published  int64 // jobs stored by the stream
	Duplicates int64 // jobs discarded as duplicates of a key seen within the window
	FullWaits  int64 // publishes refused by a full stream (each then waited or returned ErrFull)
	Stalls     int64 // ErrTooManyStalledMsgs met by SubmitBatch (each then waited and retried)
	Retries    int64 // publishes retried after a transient failure
}

// Producer submits jobs of type T to a queue's work stream. It is safe for
// concurrent use and owns no goroutine; it uses, and does not close, the
// caller's JetStream context.
type Producer[T any] struct {
	js     jetstream.JetStream
	cfg    Config
	codec  Codec[T]
	key    func(T) string
	policy *retry.Policy
	window int
	stall  time.Duration
	closed atomic.Bool
	stats  struct{ published, duplicates, full, stalls, retries atomic.Int64 }
}

// NewProducer returns a Producer for the queue cfg describes. It does not
// contact the server; the streams must exist (see [Provision]) by the time
// jobs are submitted. It returns an error wrapping [ErrInvalidOptions] for a
// bad field of cfg or opts, and panics if js is nil.
func NewProducer[T any](js jetstream.JetStream, cfg Config, opts ProducerOptions[T]) (*Producer[T], error) {
	if js == nil {
		panic("jsqueue: NewProducer with nil JetStream")
	}
	c, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	switch {
	case opts.BatchWindow < 0:
		return nil, invalid("ProducerOptions.BatchWindow = %d, want 0 (default) or more", opts.BatchWindow)
	case opts.StallWait < 0:
		return nil, invalid("ProducerOptions.StallWait = %v, want 0 (default) or more", opts.StallWait)
	}
	if opts.Retry != nil {
		if err := opts.Retry.Validate(); err != nil {
			return nil, invalid("ProducerOptions.Retry: %w", err)
		}
	}
	p := &Producer[T]{js: js, cfg: c, codec: opts.Codec, key: opts.Key, window: opts.BatchWindow, stall: opts.StallWait}
	if p.codec == nil {
		p.codec = JSONCodec[T]{}
	}
	if p.window == 0 {
		p.window = DefaultBatchWindow
	}
	if p.stall == 0 {
		p.stall = DefaultStallWait
	}
	if opts.Retry == nil {
		p.policy = DefaultRetry()
	} else {
		pol := *opts.Retry
		p.policy = &pol
	}
	return p, nil
}

// Submit publishes job to the work stream and returns nil once the stream has
// stored it (or discarded it as a duplicate of a key stored within
// Config.Duplicates): from then on it is durable as the stream's storage is
// (see the package doc) and will be delivered to a Worker at least once.
//
// While the stream is full (Config.MaxMsgs or MaxBytes), Submit blocks,
// trying again with a growing pause (up to 500ms), until there is room or
// ctx ends; it then returns an error matching both ErrFull and ctx.Err().
// A transient failure is retried under ProducerOptions.Retry with the same
// Nats-Msg-Id. Submit returns [ErrClosed] after [Producer.Close], an error
// wrapping the Codec's, and otherwise the last publish error. If Submit
// returns an error the job may still have been stored (a lost
// acknowledgement); submitting it again with the same key is safe.
func (p *Producer[T]) Submit(ctx context.Context, job T) error {
	msg, err := p.message(job)
	if err != nil {
		return err
	}
	return p.publish(ctx, msg, true)
}

// TrySubmit is Submit without waiting for room: it returns [ErrFull] at once
// if the stream is full. It still waits for the server's acknowledgement
// (and retries transient failures) within ctx.
func (p *Producer[T]) TrySubmit(ctx context.Context, job T) error {
	msg, err := p.message(job)
	if err != nil {
		return err
	}
	return p.publish(ctx, msg, false)
}

// BatchError is returned by [Producer.SubmitBatch] when some jobs were not
// confirmed as stored.
type BatchError struct {
	// Unconfirmed holds the indexes, ascending, of the jobs that were not
	// confirmed; they may or may not have been stored.
	Unconfirmed []int
	// Err is the error of the first of them.
	Err error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("jsqueue: %d job(s) of the batch not confirmed: %v", len(e.Unconfirmed), e.Err)
}

// Unwrap returns Err.
func (e *BatchError) Unwrap() error { return e.Err }

// SubmitBatch publishes jobs with asynchronous publishes, BatchWindow at a
// time, and returns nil once the stream has stored every one (or discarded
// it as a duplicate). A publish that stalls (ErrTooManyStalledMsgs) waits
// for pending acknowledgements and is made again; a job refused by a full
// stream or by a transient failure is published again as Submit does (with
// the same Nats-Msg-Id), until ctx ends. Otherwise SubmitBatch returns a
// *BatchError naming the jobs it could not confirm, or ErrClosed, or the
// Codec's error for a job before publishing anything from its window.
func (p *Producer[T]) SubmitBatch(ctx context.Context, jobs []T) error {
	if p.closed.Load() {
		return ErrClosed
	}
	var failed []int
	var firstErr error
	msgs := make([]*nats.Msg, 0, min(p.window, len(jobs)))
	futures := make([]jetstream.PubAckFuture, 0, cap(msgs))
	for lo := 0; lo < len(jobs); lo += p.window {
		hi := min(lo+p.window, len(jobs))
		msgs, futures = msgs[:0], futures[:0]
		for _, job := range jobs[lo:hi] {
			msg, err := p.message(job)
			if err != nil {
				return err
			}
			msgs = append(msgs, msg)
		}
		for _, msg := range msgs {
			f, err := p.publishAsync(ctx, msg)
			if err != nil {
				f = nil // published again below
			}
			futures = append(futures, f)
		}
		for i, f := range futures {
			err := errRepublish
			if f != nil {
				err = p.awaitFuture(ctx, f)
			}
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					err = fmt.Errorf("jsqueue: publish: %w", cerr)
				} else {
					err = p.publish(ctx, msgs[i], true)
				}
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					failed = append(failed, lo+i)
				}
			}
		}
	}
	if firstErr != nil {
		return &BatchError{Unconfirmed: failed, Err: firstErr}
	}
	return nil
}

// errRepublish marks an asynchronous publish that must be made again.
var errRepublish = errors.New("jsqueue: publish again")

// publishAsync starts an asynchronous publish of msg, waiting for room when
// nats.go reports a stall.
func (p *Producer[T]) publishAsync(ctx context.Context, msg *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(p.stall))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		p.stats.stalls.Add(1)
		select {
		case <-p.js.PublishAsyncComplete():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// futureTimeout bounds the wait for one asynchronous acknowledgement.
const futureTimeout = 5 * time.Second

// awaitFuture waits for f's acknowledgement and counts it.
func (p *Producer[T]) awaitFuture(ctx context.Context, f jetstream.PubAckFuture) error {
	t := time.NewTimer(futureTimeout)
	defer t.Stop()
	select {
	case ack := <-f.Ok():
		p.count(ack)
		return nil
	case err := <-f.Err():
		return err
	case <-t.C:
		return nats.ErrTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Producer[T]) count(ack *jetstream.PubAck) {
	if ack.Duplicate {
		p.stats.duplicates.Add(1)
	} else {
		p.stats.published.Add(1)
	}
}

// message encodes job into a message with its Nats-Msg-Id.
func (p *Producer[T]) message(job T) (*nats.Msg, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	data, err := p.codec.Encode(job)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: encode job: %w", err)
	}
	var id string
	if p.key != nil {
		id = p.key(job)
	}
	if id == "" {
		id = nuid.Next()
	}
	msg := nats.NewMsg(p.cfg.Subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, id)
	return msg, nil
}

// publish publishes msg synchronously: while the stream is full it waits
// (wait) or returns ErrFull; transient failures are retried under the
// policy.
func (p *Producer[T]) publish(ctx context.Context, msg *nats.Msg, wait bool) error {
	var prev, fullPause time.Duration
	attempt := 0
	start := time.Now()
	for {
		if p.closed.Load() {
			return ErrClosed
		}
		ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(p.cfg.Stream))
		if err == nil {
			p.count(ack)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			if isFull(err) {
				return fmt.Errorf("%w: %w", ErrFull, cerr)
			}
			return fmt.Errorf("jsqueue: publish: %w: %w", cerr, err)
		}
		var pause time.Duration
		switch {
		case isFull(err):
			p.stats.full.Add(1)
			if !wait {
				return ErrFull
			}
			fullPause = min(max(2*fullPause, 10*time.Millisecond), fullPollMax)
			pause = fullPause
		case transient(err):
			attempt++
			d, stop := p.policy.Next(ctx, err, attempt, prev, time.Since(start))
			if stop != nil {
				return fmt.Errorf("jsqueue: publish: %w", stop)
			}
			prev, pause = d, d
			p.stats.retries.Add(1)
		default:
			return fmt.Errorf("jsqueue: publish: %w", err)
		}
		if serr := clock.Sleep(ctx, pause); serr != nil {
			if isFull(err) {
				return fmt.Errorf("%w: %w", ErrFull, serr)
			}
			return fmt.Errorf("jsqueue: publish: %w: %w", serr, err)
		}
	}
}

// Close stops the producer: later calls return [ErrClosed], and calls in
// progress return it at their next try. It does not close the JetStream
// context or its connection. Close may be called more than once.
func (p *Producer[T]) Close() { p.closed.Store(true) }

// Stats returns a snapshot of the producer's counters.
func (p *Producer[T]) Stats() ProducerStats {
	return ProducerStats{
		Published:  p.stats.published.Load(),
		Duplicates: p.stats.duplicates.Load(),
		FullWaits:  p.stats.full.Load(),
		Stalls:     p.stats.stalls.Load(),
		Retries:    p.stats.retries.Load(),
	}
}

// JSStreamStoreFailedF: the server's error code for a refused store, whose
// description says why.
const codeStoreFailed = 10077

// isFull reports whether err is a stream's refusal of a new message for
// being full (DiscardNew).
func isFull(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == codeStoreFailed &&
		(strings.Contains(apiErr.Description, "maximum messages exceeded") || strings.Contains(apiErr.Description, "maximum bytes exceeded"))
}

// transient reports whether a publish that failed with err may succeed if
// made again.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503: no quorum, leader election, store busy; the rest (stream
		// not found, wrong subject, message too large) will not change.
		return apiErr.Code == 503
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting)
}

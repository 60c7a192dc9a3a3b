package jsqueue

import (
	"context"
	"strconv"
	"time"
)

// Outcome is what a [Worker] did with one delivery of a job. Only
// OutcomeSucceeded and OutcomeFailed are terminal: the job is gone from the
// work stream. After the others the server delivers the job again, to this
// or another worker.
type Outcome int

// The outcomes. The zero value is not an outcome.
const (
	// OutcomeSucceeded: the handler returned nil in time and the delivery
	// was acknowledged (terminal).
	OutcomeSucceeded Outcome = iota + 1
	// OutcomeFailed: the retry policy (or Config.MaxDeliver, or a permanent
	// error) ended the job after a failed attempt; a copy was stored in the
	// dead-letter stream and the delivery was terminated (terminal; the
	// dead-letter path).
	OutcomeFailed
	// OutcomeRetrying: the attempt failed and the delivery was negatively
	// acknowledged with the policy's delay (NakWithDelay); Result.Delay says
	// when the job becomes deliverable again. Not terminal.
	OutcomeRetrying
	// OutcomeReleased: the job was not finished here because the worker shut
	// down: it was fetched but not started, or its handler was canceled by a
	// forced Shutdown. It was negatively acknowledged without delay, so it
	// runs elsewhere at once rather than after AckWait. Not terminal.
	OutcomeReleased
	// OutcomeAbandoned: the delivery was not settled, because its lease had
	// passed (Err matches ErrLeaseExpired) or the settle could not be sent.
	// The server delivers the job again after AckWait, perhaps while this
	// handler still ran. Not terminal.
	OutcomeAbandoned
)

var outcomeNames = [...]string{
	OutcomeSucceeded: "succeeded",
	OutcomeFailed:    "failed",
	OutcomeRetrying:  "retrying",
	OutcomeReleased:  "released",
	OutcomeAbandoned: "abandoned",
}

// String returns a short lower-case name of o, such as "succeeded".
func (o Outcome) String() string {
	if o > 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Terminal reports whether o ends the job (OutcomeSucceeded or
// OutcomeFailed).
func (o Outcome) Terminal() bool { return o == OutcomeSucceeded || o == OutcomeFailed }

// Delivery identifies one delivery of a job to a handler.
type Delivery struct {
	// ID is the job's idempotency key: its Nats-Msg-Id (ProducerOptions.Key,
	// or the unique ID the Producer made), or "<stream>-<seq>" for a message
	// published without one. It is the same on every delivery of the job:
	// key the handler's side effects on it.
	ID string
	// Stream and Seq locate the job in the work stream (Seq is the same on
	// every delivery).
	Stream string
	Seq    uint64
	// Attempt is this delivery's number as counted by the server
	// (NumDelivered): 1 for the first. A worker crash uses one up. After a
	// hard broker crash it can go back (a job can run twice with Attempt 1),
	// so do not use it to detect repeats: use ID.
	Attempt int
	// Published is when the stream stored the job.
	Published time.Time
}

// Result is what a [Worker] did with one delivery, passed to
// [Options.OnResult].
type Result[T any] struct {
	// Job is the decoded job (the zero T if it could not be decoded).
	Job T
	// Delivery identifies the job and this delivery of it.
	Delivery Delivery
	// Outcome says what was done; see Outcome.Terminal.
	Outcome Outcome
	// Err is nil for OutcomeSucceeded. For OutcomeFailed it is the final
	// error: the handler's error if it was permanent or not retryable, a
	// *retry.Error (matching retry.ErrExhausted, ...) wrapping the last
	// attempt's error when the policy or Config.MaxDeliver ran out, an error
	// wrapping ErrUndecodable, or a *PanicError from a retry policy hook.
	// For OutcomeRetrying it is the attempt's error (a *PanicError for a
	// panic, one matching ErrAttemptTimeout for an overrun). For
	// OutcomeReleased it matches ErrShutdown; for OutcomeAbandoned it
	// matches ErrLeaseExpired or is the error of the failed settle.
	Err error
	// Delay is the NakWithDelay delay of an OutcomeRetrying result.
	Delay time.Duration
}

// deliveryKey is the context key of a handler's *Delivery.
type deliveryKey struct{}

// DeliveryOf returns the Delivery of the handler call that ctx belongs to, and
// false for a context that is not, or does not derive from, a handler's.
func DeliveryOf(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(*Delivery)
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}

// Attempt returns the attempt number (Delivery.Attempt) of the handler call
// that ctx belongs to, or 0 outside a handler. Note that
// workqueue.Attempt(ctx) would return 1 in a jsqueue handler: the in-memory
// queue that runs it makes one attempt per delivery.
func Attempt(ctx context.Context) int {
	d, _ := ctx.Value(deliveryKey{}).(*Delivery)
	if d == nil {
		return 0
	}
	return d.Attempt
}

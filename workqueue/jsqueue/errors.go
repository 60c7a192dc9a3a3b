package jsqueue

import (
	"errors"
	"fmt"

	"github.com/sluicego/sluice/workqueue"
)

var (
	// ErrInvalidOptions is wrapped by the error that [New], [NewProducer]
	// and [Provision] return for a bad field of [Options], [ProducerOptions]
	// or [Config]; the error names the field.
	ErrInvalidOptions = errors.New("jsqueue: invalid options")

	// ErrClosed is returned by [Producer.Submit], [Producer.TrySubmit] and
	// [Producer.SubmitBatch] once [Producer.Close] has been called.
	ErrClosed = errors.New("jsqueue: closed")

	// ErrFull is returned by [Producer.TrySubmit] when the work stream holds
	// [Config.MaxMsgs] jobs or [Config.MaxBytes] bytes (the stream discards
	// new messages when full). [Producer.Submit] waits instead.
	ErrFull = errors.New("jsqueue: stream full")

	// ErrShutdown is matched by the error [Worker.Shutdown] returns when its
	// context ended before the running handlers returned, and by the Err of
	// the jobs it then released.
	ErrShutdown = errors.New("jsqueue: forced shutdown")

	// ErrLeaseExpired is the Err of an [OutcomeAbandoned] Result: the
	// delivery's lease (AckWait after it was fetched or last extended by a
	// confirmed heartbeat) passed before the worker could settle it, so the
	// worker did not settle it (the server redelivers it, possibly while this
	// handler still runs). It is also the cause of the handler's context
	// ending when the lease passes while the handler runs.
	ErrLeaseExpired = errors.New("jsqueue: delivery lease expired")

	// ErrUndecodable is wrapped by the Err of a dead letter whose payload the
	// Codec could not decode; such a job is dead-lettered at once, without a
	// handler call.
	ErrUndecodable = errors.New("jsqueue: undecodable job")

	// ErrAttemptTimeout means that an attempt ran longer than
	// [Options.AttemptTimeout]; it is the same value as
	// [workqueue.ErrAttemptTimeout], so either matches. As in workqueue, an
	// attempt that returned at or after its deadline fails with an error
	// matching ErrAttemptTimeout and context.DeadlineExceeded, even if the
	// handler returned nil.
	ErrAttemptTimeout = workqueue.ErrAttemptTimeout

	// ErrGoexit is the error of an attempt whose handler called
	// runtime.Goexit; the same value as [workqueue.ErrGoexit].
	ErrGoexit = workqueue.ErrGoexit
)

// PanicError is the error of an attempt whose handler panicked (the panic is
// recovered; the worker goes on). It is [workqueue.PanicError].
type PanicError = workqueue.PanicError

// invalid returns an error wrapping ErrInvalidOptions that names the field.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

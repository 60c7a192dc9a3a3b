package workqueue

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by [Queue.Submit] and [Queue.TrySubmit] once [Queue.Close] or [Queue.Shutdown]
	// has been called, including to submitters that were blocked at that moment.
	ErrClosed = errors.New("workqueue: queue closed")

	// ErrInvalidOptions is wrapped by the error [New] returns for bad [Options];
	// the error names the field.
	ErrInvalidOptions = errors.New("workqueue: invalid options")

	// ErrFull is returned by [Queue.TrySubmit] when the buffer holds [Options.Capacity] jobs.
	ErrFull = errors.New("workqueue: queue full")

	// ErrAttemptTimeout means that an attempt ran longer than
	// [Options.AttemptTimeout]. It is the cause of the handler's context ending
	// then, and an attempt that returned at or after its deadline fails with
	// an error matching both ErrAttemptTimeout and context.DeadlineExceeded,
	// even if the handler returned nil.
	ErrAttemptTimeout = errors.New("workqueue: attempt timeout")

	// ErrGoexit is the error of an attempt whose handler called
	// runtime.Goexit (as t.FailNow does) instead of returning.
	ErrGoexit = errors.New("workqueue: handler called runtime.Goexit")

	// ErrShutdown is matched by the error of every job canceled or dropped by a
	// [Queue.Shutdown] whose context ended, and by the error it then returns.
	ErrShutdown = errors.New("workqueue: forced shutdown")
)

// PanicError is the error of an attempt whose handler panicked. The panic is
// recovered on the worker; it does not crash the program or stop the worker.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack trace at the point of the panic.
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("workqueue: handler panicked: %v", e.Value)
}

// Unwrap returns Value if it is an error, so that errors.Is and errors.As
// see through a panic(err).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

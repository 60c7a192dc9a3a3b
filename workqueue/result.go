package workqueue

// Result is what one accepted job produced, passed to [Options.OnResult] once
// the job has reached its [Outcome].
type Result[T any] struct {
	// Job is the value given to Submit or TrySubmit.
	Job T
	// Outcome is the job's category.
	Outcome Outcome
	// Attempts is the number of times the handler was called for this job
	// (0 for a dropped job).
	Attempts int
	// Err is nil for OutcomeSucceeded. For OutcomeFailed it is the final
	// error: the handler's error when it was permanent or not retryable, a
	// *PanicError if the policy's Retryable or OnRetry hook panicked,
	// otherwise a *retry.Error saying why retrying stopped and
	// wrapping the last attempt's error. For OutcomeCanceled it matches
	// ErrShutdown and wraps the last attempt's error; for OutcomeDropped it
	// is ErrShutdown.
	Err error
}

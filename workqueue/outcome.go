package workqueue

// Status is the terminal state of an accepted job.
type Status uint8

// Every accepted job ends in exactly one of these.
const (
	// Succeeded: an attempt returned nil.
	Succeeded Status = iota + 1
	// Failed: the last attempt failed and no retry follows, because Retry is
	// nil, the error was permanent or not retryable, or the policy ran out.
	// This is the dead-letter path.
	Failed
	// Canceled: the job was running, or awaiting a retry, when a Shutdown's
	// context ended.
	Canceled
	// Dropped: the job was still in the buffer, never started, when a
	// Shutdown's context ended.
	Dropped
)

func (s Status) String() string {
	switch s {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Canceled:
		return "canceled"
	case Dropped:
		return "dropped"
	}
	return "unknown"
}

// Outcome is the report of one accepted job, passed to Options.OnDone once
// the job has reached its terminal Status.
type Outcome[T any] struct {
	// Job is the value given to Submit or TrySubmit.
	Job T
	// Status is the terminal state.
	Status Status
	// Attempts is the number of times the handler was called for this job
	// (0 for a dropped job).
	Attempts int
	// Err is nil for Succeeded. For Failed it is the final error: the
	// handler's error when Retry is nil or the error was permanent or not
	// retryable, a *PanicError if the policy's Retryable or OnRetry hook
	// panicked, otherwise a *retry.Error saying why retrying stopped and
	// wrapping the last attempt's error. For Canceled it matches ErrShutdown
	// and wraps the last attempt's error; for Dropped it is ErrShutdown.
	Err error
}

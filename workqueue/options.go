package workqueue

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/sluicego/sluice/retry"
)

// Limits on Options, so that a typo cannot allocate gigabytes in New.
const (
	MaxWorkers  = 1 << 16
	MaxCapacity = 1 << 24
)

// DefaultMaxRetrying is the least MaxRetrying used when it is zero.
const DefaultMaxRetrying = 1024

// Options configures a [Queue]. The zero value is valid and gives
// [runtime.GOMAXPROCS](0) workers, a buffer of as many jobs, [DefaultRetry], no
// per-attempt timeout, no OnResult hook and no logging.
type Options[T any] struct {
	// Workers is the number of goroutines that call the handler, at most
	// MaxWorkers. Zero means runtime.GOMAXPROCS(0) as seen by New.
	Workers int

	// Capacity is how many submitted jobs can wait in the buffer for a
	// worker, at most MaxCapacity. Submit blocks and TrySubmit returns
	// ErrFull while the buffer is full. Jobs that are running or awaiting a
	// retry do not count. Zero means Workers.
	Capacity int

	// Retry is the policy applied after a failed attempt (see
	// [retry.Policy.Next]): the job waits out the policy's jittered backoff,
	// without holding a worker or a buffer slot, and runs again; or it fails
	// with the policy's error. Nil means [DefaultRetry] (5 attempts, 100ms
	// doubling to 10s, full jitter); [retry.NoRetry] makes every failed
	// attempt final. The policy is copied by [New]. Its Retryable and
	// OnRetry hooks run on a worker goroutine; a panic in them fails the job
	// with a [*PanicError].
	Retry *retry.Policy

	// MaxRetrying bounds the jobs awaiting a retry. While that many wait,
	// workers run only due retries and take no new job from the buffer, so the
	// buffer fills and Submit blocks: the backlog pushes back on submitters
	// instead of growing. At most MaxRetrying+Workers-1 jobs ever await a
	// retry. Zero means Capacity or DefaultMaxRetrying, whichever is larger.
	MaxRetrying int

	// AttemptTimeout, if positive, is one attempt's time limit: the
	// handler's context ends AttemptTimeout after the attempt started (with
	// cause ErrAttemptTimeout).
	// The clock decides an overrun: an attempt whose handler returns at or
	// after that deadline fails with an error matching ErrAttemptTimeout and
	// context.DeadlineExceeded, even if it returned nil and whether or not
	// the context had ended yet, and is retried like any failed attempt. One
	// that returns before the deadline keeps its result. Zero means no
	// timeout.
	AttemptTimeout time.Duration

	// OnResult, if non-nil, receives the [Result] of every accepted job
	// exactly once, when the job has reached its [Outcome]. It is called from
	// the queue's worker and retry goroutines and from the goroutine calling
	// Shutdown, possibly concurrently, so it must be safe for concurrent use;
	// a worker is busy until it returns, so it should not block for long. A
	// panic in OnResult is recovered and logged at error level; the job still
	// counts as reported. So does a runtime.Goexit (as t.FailNow calls), which still ends the
	// goroutine: the queue replaces its own, and on the goroutine calling
	// Shutdown, Shutdown does not return.
	OnResult func(Result[T])

	// Logger receives the rare events worth a human's attention: handler
	// panics and Goexits, OnResult panics, forced shutdowns. Nil means no
	// logging (every job's outcome still reaches OnResult and [Stats]). Nothing
	// is logged per successful job.
	Logger *slog.Logger
}

// DefaultRetry returns the policy used when [Options.Retry] is nil: the zero
// [retry.Policy], 5 attempts with delays from 100ms doubling to 10s, full
// jitter.
func DefaultRetry() *retry.Policy { return &retry.Policy{} }

// config is Options with the defaults applied and the policy copied.
type config[T any] struct {
	workers        int
	capacity       int
	retry          *retry.Policy
	maxRetrying    int
	attemptTimeout time.Duration
	onResult       func(Result[T])
	logger         *slog.Logger
}

func (o Options[T]) config() (config[T], error) {
	c := config[T]{
		workers:        o.Workers,
		capacity:       o.Capacity,
		maxRetrying:    o.MaxRetrying,
		attemptTimeout: o.AttemptTimeout,
		onResult:       o.OnResult,
		logger:         o.Logger,
	}
	switch {
	case o.Workers < 0 || o.Workers > MaxWorkers:
		return c, invalid("Workers = %d, want 0 (default) to %d", o.Workers, MaxWorkers)
	case o.Capacity < 0 || o.Capacity > MaxCapacity:
		return c, invalid("Capacity = %d, want 0 (default) to %d", o.Capacity, MaxCapacity)
	case o.MaxRetrying < 0:
		return c, invalid("MaxRetrying = %d, want 0 (default) or more", o.MaxRetrying)
	case o.AttemptTimeout < 0:
		return c, invalid("AttemptTimeout = %v, want 0 (none) or more", o.AttemptTimeout)
	}
	if c.workers == 0 {
		c.workers = min(runtime.GOMAXPROCS(0), MaxWorkers)
	}
	if c.capacity == 0 {
		c.capacity = c.workers
	}
	if c.maxRetrying == 0 {
		c.maxRetrying = max(c.capacity, DefaultMaxRetrying)
	}
	c.retry = DefaultRetry()
	if o.Retry != nil {
		if err := o.Retry.Validate(); err != nil {
			return c, fmt.Errorf("%w: Retry: %w", ErrInvalidOptions, err)
		}
		p := *o.Retry
		c.retry = &p
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// invalid returns an error wrapping ErrInvalidOptions that names the field.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

package retry

import (
	"context"
	"time"

	"github.com/sluicego/sluice/internal/clock"
)

// Do calls fn until it succeeds or the policy says to stop, and returns nil on
// success. Between attempts it waits the policy's jittered backoff, or longer
// when the error carries an [After] hint; the wait ends early if ctx ends.
//
// Do returns, after the attempt that caused it:
//   - nil, when fn returned nil;
//   - the error unchanged, when it was marked [Permanent] or Policy.Retryable
//     rejected it (the mark stays: see [Permanent]);
//   - an [*Error] whose Reason is ErrExhausted, ErrMaxElapsed or ErrBudget when
//     the policy ran out, or ctx.Err() when ctx ended (during fn or a wait);
//     the *Error wraps the last attempt's error.
//
// If p is invalid ([Policy.Validate]), Do returns that error, and if ctx has
// ended before the first attempt, ctx.Err(); in both cases without calling fn. fn receives ctx unchanged; Do starts no goroutine. A first
// attempt that succeeds allocates nothing.
func Do(ctx context.Context, p Policy, fn func(context.Context) error) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// MaxElapsed counts from the start of the first attempt; read the clock
	// only when it is needed.
	var start time.Time
	if p.MaxElapsed > 0 {
		start = time.Now()
	}
	err := fn(ctx)
	if err == nil {
		if p.Budget != nil {
			p.Budget.Success()
		}
		return nil
	}
	return p.retryAfterFailure(ctx, start, err, fn)
}

// DoValue is Do for a function that returns a value. On success it returns
// fn's value; otherwise it returns the zero value of T and the error Do would.
func DoValue[T any](ctx context.Context, p Policy, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := Do(ctx, p, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// retryAfterFailure is the slow path of Do, kept apart so that the first
// attempt's fast path stays small. err is the first attempt's error; start is
// when the first attempt started, or the zero time if MaxElapsed is not set.
func (p *Policy) retryAfterFailure(ctx context.Context, start time.Time, err error, fn func(context.Context) error) error {
	var delay time.Duration
	for attempt := 1; ; attempt++ {
		var stop error
		var elapsed time.Duration
		if p.MaxElapsed > 0 {
			elapsed = time.Since(start)
		}
		delay, stop = p.Next(ctx, err, attempt, delay, elapsed)
		if stop != nil {
			return stop
		}
		if cerr := clock.Sleep(ctx, delay); cerr != nil {
			return &Error{Reason: cerr, Last: err, Attempts: attempt}
		}
		if err = fn(ctx); err == nil {
			if p.Budget != nil {
				p.Budget.Success()
			}
			return nil
		}
	}
}

// Next decides what follows a failed attempt, applying the policy exactly as
// Do does. It is for loops that schedule attempts themselves, such as a work
// queue that re-enqueues a job rather than sleep. attempt is the number of the
// attempt that failed (1 for the first), prev the delay Next returned before
// it (0 after the first attempt), and elapsed the time since the first attempt
// started.
//
// Next returns the delay to wait before the next attempt and a nil error, after
// calling OnRetry; or it returns the error Do would return now (see Do), and
// then no attempt follows. It spends a Budget token for a retryable failure;
// after a success, call Budget.Success yourself. Next does not wait. Check p
// once with [Policy.Validate]: fields it rejects act as [Schedule.Base] says.
func (p *Policy) Next(ctx context.Context, err error, attempt int, prev, elapsed time.Duration) (time.Duration, error) {
	if cerr := ctx.Err(); cerr != nil {
		return 0, &Error{Reason: cerr, Last: err, Attempts: attempt}
	}
	if IsPermanent(err) || (p.Retryable != nil && !p.Retryable(err)) {
		return 0, err
	}
	budgetAllows := p.Budget == nil || p.Budget.Failure()
	if maxAttempts := p.maxAttempts(); maxAttempts > 0 && attempt >= maxAttempts {
		return 0, &Error{Reason: ErrExhausted, Last: err, Attempts: attempt}
	}
	if !budgetAllows {
		return 0, &Error{Reason: ErrBudget, Last: err, Attempts: attempt}
	}
	delay := p.withHint(p.delay(attempt, prev), err)
	// delay > MaxElapsed-elapsed is elapsed+delay > MaxElapsed without the
	// overflow of a delay near the largest Duration.
	if p.MaxElapsed > 0 && delay > p.MaxElapsed-max(elapsed, 0) {
		return 0, &Error{Reason: ErrMaxElapsed, Last: err, Attempts: attempt}
	}
	if p.OnRetry != nil {
		p.OnRetry(attempt, err, delay)
	}
	return delay, nil
}

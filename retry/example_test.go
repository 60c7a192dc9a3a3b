package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicego/sluice/retry"
)

func ExampleDo() {
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 4}
	calls := 0
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println(calls, err)
	// Output: 3 <nil>
}

func ExampleDo_exhausted() {
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		return errors.New("503 service unavailable")
	})
	var re *retry.Error
	fmt.Println(errors.Is(err, retry.ErrExhausted), errors.As(err, &re) && re.Attempts == 3)
	fmt.Println(err)
	// Output:
	// true true
	// retry: attempts exhausted after 3 attempt(s): 503 service unavailable
}

func ExampleDoValue() {
	v, err := retry.DoValue(context.Background(), retry.Policy{}, func(ctx context.Context) (int, error) {
		return 42, nil
	})
	fmt.Println(v, err)
	// Output: 42 <nil>
}

func ExamplePermanent() {
	calls := 0
	err := retry.Do(context.Background(), retry.Policy{}, func(ctx context.Context) error {
		calls++
		return retry.Permanent(fmt.Errorf("status %d", http.StatusUnauthorized))
	})
	fmt.Println(calls, err)
	// Output: 1 status 401
}

func ExampleAfter() {
	// A server said "Retry-After: 3600". MaxHint caps the wait at 10ms here.
	p := retry.Policy{Schedule: retry.Schedule{MaxHint: 10 * time.Millisecond}, MaxAttempts: 2}
	start := time.Now()
	calls := 0
	_ = retry.Do(context.Background(), p, func(ctx context.Context) error {
		calls++
		if calls == 1 {
			return retry.After(errors.New("429 too many requests"), time.Hour)
		}
		return nil
	})
	fmt.Println(calls, time.Since(start) < time.Second)
	// Output: 2 true
}

func ExampleBackoff() {
	b := retry.Backoff{Schedule: retry.Schedule{Initial: time.Second, Max: 8 * time.Second, Jitter: retry.JitterNone}}
	for range 5 {
		fmt.Print(b.Next(), " ")
	}
	b.Reset() // after a connection proved stable
	fmt.Println(b.Next())
	// Output: 1s 2s 4s 8s 8s 1s
}

func ExampleBudget() {
	// One budget for every caller of the same backend.
	budget := retry.NewBudget(10, 0.1)
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 5, Budget: budget}
	var stopped int
	for range 20 { // an outage: every call fails
		err := retry.Do(context.Background(), p, func(ctx context.Context) error { return errors.New("down") })
		if errors.Is(err, retry.ErrBudget) {
			stopped++
		}
	}
	fmt.Printf("%d of 20 calls stopped retrying early; tokens left %.0f\n", stopped, budget.Tokens())
	// Output: 19 of 20 calls stopped retrying early; tokens left 0
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, time.November, 22, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sun, 22 Nov 2026 12:00:30 GMT", "Sunday, 22-Nov-26 12:01:00 GMT", "soon"} {
		d, ok := retry.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 1m0s true
	// 0s false
}

func ExamplePolicy_Next() {
	// A loop that schedules attempts itself (here: a fake clock) asks the
	// policy what follows each failure.
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: 3}
	var delay, elapsed time.Duration
	for attempt := 1; ; attempt++ {
		err := errors.New("unavailable") // the attempt failed
		var stop error
		delay, stop = p.Next(context.Background(), err, attempt, delay, elapsed)
		if stop != nil {
			fmt.Println("give up:", stop)
			return
		}
		fmt.Println("attempt", attempt, "failed; retry in", delay)
		elapsed += delay
	}
	// Output:
	// attempt 1 failed; retry in 1s
	// attempt 2 failed; retry in 2s
	// give up: retry: attempts exhausted after 3 attempt(s): unavailable
}

package limit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

func ExampleBreaker() {
	b, err := limit.NewBreaker(limit.BreakerOptions{
		ConsecutiveFailures: 3,
		CoolDown:            20 * time.Millisecond, // open for 20 to 24ms
		OnStateChange: func(from, to limit.BreakerState) {
			fmt.Println("breaker:", from, "->", to)
		},
	})
	if err != nil {
		panic(err)
	}
	call := func(ok bool) error {
		p, err := b.Allow()
		if err != nil {
			return err // open: fail fast, the dependency is not called
		}
		// ... call the dependency ...
		p.Done(ok) // report the result
		return nil
	}
	for range 3 {
		_ = call(false)
	}
	err = call(true)
	fmt.Println(errors.Is(err, limit.ErrBreakerOpen))

	var open *limit.OpenError
	if errors.As(err, &open) {
		time.Sleep(time.Until(open.Until)) // wait out the cool-down
	}
	fmt.Println(call(true)) // the half-open probe succeeds
	fmt.Printf("%+v\n", b.Stats())
	// Output:
	// breaker: closed -> open
	// true
	// breaker: open -> half-open
	// breaker: half-open -> closed
	// <nil>
	// {State:closed Calls:0 Failures:0 ConsecutiveFailures:0 Rejected:1 Opens:1}
}

func ExampleBreaker_Do() {
	errNotFound := errors.New("404 not found")
	b, err := limit.NewBreaker(limit.BreakerOptions{
		FailureRate: 0.5, // open when half the calls of the last 10s failed...
		MinCalls:    4,   // ...once there were at least 4 calls
		CoolDown:    time.Minute,
		// A 404 is the dependency working: not a failure.
		IsFailure: func(err error) bool { return !errors.Is(err, errNotFound) },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, result := range []error{nil, errNotFound, errors.New("503"), errors.New("timeout")} {
		err := b.Do(ctx, func(context.Context) error { return result })
		fmt.Printf("%v (%v)\n", err, b.State())
	}
	err = b.Do(ctx, func(context.Context) error { panic("not called while open") })
	fmt.Println(errors.Is(err, limit.ErrBreakerOpen))
	// Output:
	// <nil> (closed)
	// 404 not found (closed)
	// 503 (closed)
	// timeout (open)
	// true
}

// A breaker in front of a work queue handler's dependency: while it is open,
// the handler returns the breaker's error marked with retry.After, so the
// queue parks the job until the cool-down ends instead of spending its
// retries (and the dependency's patience) on it.
func ExampleBreaker_workqueue() {
	var calls atomic.Int64
	dependency := func(context.Context, string) error {
		if calls.Add(1) <= 3 { // down for its first 3 calls, then recovered
			return errors.New("503 service unavailable")
		}
		return nil
	}
	b, err := limit.NewBreaker(limit.BreakerOptions{ConsecutiveFailures: 3, CoolDown: 50 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	handler := func(ctx context.Context, job string) error {
		err := b.Do(ctx, func(ctx context.Context) error { return dependency(ctx, job) })
		if open := (*limit.OpenError)(nil); errors.As(err, &open) {
			return retry.After(err, time.Until(open.Until)) // come back when it half-opens
		}
		return err
	}

	var (
		mu      sync.Mutex
		results []string
	)
	q, err := workqueue.New(handler, workqueue.Options[string]{
		Workers: 2,
		Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 10},
		OnResult: func(r workqueue.Result[string]) {
			mu.Lock()
			defer mu.Unlock()
			results = append(results, fmt.Sprintf("%s: %v", r.Job, r.Outcome))
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, job := range []string{"a", "b", "c", "d", "e"} {
		if err := q.Submit(ctx, job); err != nil {
			panic(err)
		}
	}
	if err := q.Shutdown(ctx); err != nil {
		panic(err)
	}
	slices.Sort(results)
	fmt.Println(results)
	fmt.Println("calls that reached the dependency:", calls.Load()) // 3 failures, 5 successes
	fmt.Println("times the breaker opened:", b.Stats().Opens)
	// Output:
	// [a: succeeded b: succeeded c: succeeded d: succeeded e: succeeded]
	// calls that reached the dependency: 8
	// times the breaker opened: 1
}

func ExampleKeyedBreaker() {
	perHost, err := limit.NewKeyedBreaker[string](limit.BreakerOptions{
		ConsecutiveFailures: 2,
		OnKeyStateChange: func(host any, from, to limit.BreakerState) {
			fmt.Printf("%s: %v -> %v\n", host, from, to)
		},
	})
	if err != nil {
		panic(err)
	}
	for _, host := range []string{"down.example", "up.example", "down.example"} {
		p, err := perHost.Allow(host)
		if err != nil {
			continue
		}
		p.Done(host == "up.example")
	}
	_, err = perHost.Allow("down.example")
	fmt.Println(err != nil, perHost.State("up.example"), perHost.Len())
	// Output:
	// down.example: closed -> open
	// true closed 2
}

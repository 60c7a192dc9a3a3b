package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

func ExampleNew() {
	var mu sync.Mutex
	var lines []string
	q, err := workqueue.New(func(ctx context.Context, name string) error {
		if name == "" {
			return retry.Permanent(errors.New("empty name"))
		}
		return nil
	}, workqueue.Options[string]{
		Workers:  4,
		Capacity: 16,
		Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3},
		OnResult: func(o workqueue.Result[string]) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, fmt.Sprintf("%q: %v after %d attempt(s), err=%v", o.Job, o.Outcome, o.Attempts, o.Err))
		},
	})
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"alpha", "", "beta"} {
		if err := q.Submit(context.Background(), name); err != nil {
			fmt.Println("rejected:", err)
		}
	}
	if err := q.Shutdown(context.Background()); err != nil {
		fmt.Println("shutdown:", err)
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// "": failed after 1 attempt(s), err=empty name
	// "alpha": succeeded after 1 attempt(s), err=<nil>
	// "beta": succeeded after 1 attempt(s), err=<nil>
}

func ExampleQueue_Wait() {
	var mu sync.Mutex
	sum := 0
	q, _ := workqueue.New(func(_ context.Context, n int) error {
		mu.Lock()
		defer mu.Unlock()
		sum += n
		return nil
	}, workqueue.Options[int]{Workers: 2})
	defer q.Shutdown(context.Background())

	for batch := range 2 {
		for n := 1; n <= 10; n++ {
			_ = q.Submit(context.Background(), n)
		}
		// Join the batch without closing the queue.
		if err := q.Wait(context.Background()); err != nil {
			fmt.Println(err)
		}
		mu.Lock()
		fmt.Printf("after batch %d: sum=%d\n", batch+1, sum)
		mu.Unlock()
	}
	// Output:
	// after batch 1: sum=55
	// after batch 2: sum=110
}

func ExampleQueue_Shutdown() {
	started := make(chan struct{})
	var once sync.Once
	counts := map[workqueue.Outcome]int{}
	var mu sync.Mutex
	q, _ := workqueue.New(func(ctx context.Context, _ int) error {
		once.Do(func() { close(started) })
		<-ctx.Done() // a long job that honours cancellation
		return ctx.Err()
	}, workqueue.Options[int]{
		Workers:  1,
		Capacity: 3,
		OnResult: func(o workqueue.Result[int]) {
			mu.Lock()
			defer mu.Unlock()
			counts[o.Outcome]++
		},
	})
	for i := range 4 {
		_ = q.Submit(context.Background(), i)
	}
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := q.Shutdown(ctx) // the deadline passes: cancel the running job, drop the rest
	fmt.Println(errors.Is(err, workqueue.ErrShutdown), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("canceled:", counts[workqueue.OutcomeCanceled], "dropped:", counts[workqueue.OutcomeDropped])
	fmt.Println(q.Submit(context.Background(), 99))
	// Output:
	// true true
	// canceled: 1 dropped: 3
	// workqueue: queue closed
}

func ExampleQueue_TrySubmit() {
	started, block := make(chan struct{}), make(chan struct{})
	q, err := workqueue.New(func(ctx context.Context, n int) error {
		if n == 0 {
			close(started)
		}
		<-block
		return nil
	}, workqueue.Options[int]{Workers: 1, Capacity: 1})
	if err != nil {
		panic(err)
	}
	// One job runs, one waits in the buffer, the third does not fit: a
	// producer that must never block sheds load instead.
	fmt.Println(q.TrySubmit(0))
	<-started
	fmt.Println(q.TrySubmit(1))
	fmt.Println(q.TrySubmit(2))
	close(block)
	_ = q.Shutdown(context.Background())
	fmt.Println(q.TrySubmit(3))
	// Output:
	// <nil>
	// <nil>
	// workqueue: queue full
	// workqueue: queue closed
}

// A handler reads its attempt number from its context, here to give up on
// the third attempt with a value job that cannot count for itself.
func ExampleAttempt() {
	q, err := workqueue.New(func(ctx context.Context, job string) error {
		n := workqueue.Attempt(ctx)
		fmt.Printf("%s: attempt %d\n", job, n)
		if n < 3 {
			return errors.New("not yet")
		}
		return nil
	}, workqueue.Options[string]{
		Workers: 1,
		Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3},
	})
	if err != nil {
		panic(err)
	}
	if err := q.Submit(context.Background(), "report"); err != nil {
		panic(err)
	}
	if err := q.Shutdown(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println("outside a handler:", workqueue.Attempt(context.Background()))
	// Output:
	// report: attempt 1
	// report: attempt 2
	// report: attempt 3
	// outside a handler: 0
}

func ExampleQueue_Stats() {
	q, _ := workqueue.New(func(context.Context, int) error { return nil }, workqueue.Options[int]{Workers: 2})
	for i := range 5 {
		_ = q.Submit(context.Background(), i)
	}
	_ = q.Shutdown(context.Background())
	st := q.Stats()
	fmt.Println(st.Submitted, st.Succeeded, st.Queued)
	// Output: 5 5 0
}

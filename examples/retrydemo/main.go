// Command retrydemo shows the retry and limit packages working together,
// offline: 40 calls to a flaky in-process "backend" that fails one call in
// three and answers "busy, retry after 20ms" now and then. A semaphore caps
// concurrency at 8, a retry policy with full jitter retries the transient
// failures, and a shared budget keeps an outage from becoming a retry storm.
//
//	go run ./examples/retrydemo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

type config struct {
	Calls       int
	Concurrency int64
	FailRate    float64
	Seed        uint64
}

type summary struct {
	OK, Failed, Retries int64
	MaxInFlight         int64
	Elapsed             time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Calls, "calls", 40, "number of calls to make")
	flag.Int64Var(&cfg.Concurrency, "c", 8, "maximum calls in flight")
	flag.Float64Var(&cfg.FailRate, "fail", 0.33, "probability that one attempt fails")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the fake backend")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "retrydemo:", err)
		os.Exit(1)
	}
}

var errBusy = errors.New("backend busy")

// backend is a fake dependency: it fails a fraction of attempts, sometimes
// with a hint to come back later, and tracks how many calls overlap.
type backend struct {
	mu       sync.Mutex
	rnd      *rand.Rand
	failRate float64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func (b *backend) call(ctx context.Context) error {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	b.mu.Lock()
	roll := b.rnd.Float64()
	b.mu.Unlock()
	select {
	case <-time.After(2 * time.Millisecond): // the work
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case roll < b.failRate/3:
		return retry.After(errBusy, 20*time.Millisecond)
	case roll < b.failRate:
		return errors.New("connection reset")
	}
	return nil
}

func run(ctx context.Context, cfg config, w io.Writer) (summary, error) {
	if cfg.Calls < 0 || cfg.Concurrency < 1 {
		return summary{}, fmt.Errorf("need calls >= 0 and concurrency >= 1")
	}
	be := &backend{rnd: rand.New(rand.NewPCG(cfg.Seed, 0)), failRate: cfg.FailRate}
	sem := limit.NewSemaphore(cfg.Concurrency)
	var s summary
	policy := retry.Policy{
		MaxAttempts: 6,
		Initial:     5 * time.Millisecond,
		Max:         100 * time.Millisecond,
		MaxHint:     50 * time.Millisecond,
		Budget:      retry.NewBudget(10, 1),
		OnRetry:     func(int, error, time.Duration) { atomic.AddInt64(&s.Retries, 1) },
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range cfg.Calls {
		if err := sem.Acquire(ctx, 1); err != nil {
			break // ctx ended: stop starting calls
		}
		wg.Go(func() {
			defer sem.Release(1)
			err := retry.Do(ctx, policy, be.call)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Failed++
				fmt.Fprintf(w, "call %2d failed: %v\n", i, err)
				return
			}
			s.OK++
		})
	}
	wg.Wait()
	s.Elapsed = time.Since(start)
	s.MaxInFlight = be.maxSeen.Load()
	fmt.Fprintf(w, "calls: %d ok, %d failed, %d retries; at most %d in flight (cap %d); %v\n",
		s.OK, s.Failed, s.Retries, s.MaxInFlight, cfg.Concurrency, s.Elapsed.Round(time.Millisecond))
	return s, ctx.Err()
}

package workqueue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

// The benchmarks compare the per-job cost of Submit → handler with a plain
// buffered channel feeding the same number of goroutines. Both include
// starting the workers and waiting for the last job.

const (
	benchWorkers  = 8
	benchCapacity = 64
)

func BenchmarkQueueNoop(b *testing.B) {
	b.Run("1-submitter", func(b *testing.B) {
		benchOneSubmitter(b, workqueue.Options[int]{Workers: benchWorkers, Capacity: benchCapacity, Retry: retry.NoRetry()})
	})
	b.Run("parallel-submitters", func(b *testing.B) {
		b.ReportAllocs()
		q, err := workqueue.New(noop, workqueue.Options[int]{Workers: benchWorkers, Capacity: benchCapacity, Retry: retry.NoRetry()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if err := q.Submit(ctx, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if err := q.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	})
}

// benchOneSubmitter submits jobs to a queue with options o, handled by noop,
// from one goroutine, and waits for the last job.
func benchOneSubmitter(b *testing.B, o workqueue.Options[int]) {
	b.ReportAllocs()
	q, err := workqueue.New(noop, o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := q.Submit(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	if err := q.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkPlainChannelNoop(b *testing.B) {
	start := func() (chan int, *sync.WaitGroup) {
		ch := make(chan int, benchCapacity)
		wg := &sync.WaitGroup{}
		for range benchWorkers {
			wg.Go(func() {
				for job := range ch {
					_ = noop(context.Background(), job)
				}
			})
		}
		return ch, wg
	}
	b.Run("1-submitter", func(b *testing.B) {
		b.ReportAllocs()
		ch, wg := start()
		for i := 0; b.Loop(); i++ {
			ch <- i
		}
		close(ch)
		wg.Wait()
	})
	b.Run("parallel-submitters", func(b *testing.B) {
		b.ReportAllocs()
		ch, wg := start()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				ch <- i
			}
		})
		close(ch)
		wg.Wait()
	})
}

// BenchmarkQueueNoopWithRetryPolicy is BenchmarkQueueNoop/1-submitter with a
// retry policy set (no job fails): the workers then also watch the retry
// scheduler.
func BenchmarkQueueNoopWithRetryPolicy(b *testing.B) {
	benchOneSubmitter(b, workqueue.Options[int]{Workers: benchWorkers, Capacity: benchCapacity, Retry: &retry.Policy{}})
}

// BenchmarkQueueNoopWithAttemptTimeout is BenchmarkQueueNoop/1-submitter with a
// AttemptTimeout set: every attempt then gets its own deadline, and its end is
// compared with the clock.
func BenchmarkQueueNoopWithAttemptTimeout(b *testing.B) {
	benchOneSubmitter(b, workqueue.Options[int]{Workers: benchWorkers, Capacity: benchCapacity, AttemptTimeout: time.Minute})
}

// BenchmarkQueueTrySubmitFull measures the rejection path of TrySubmit.
func BenchmarkQueueTrySubmitFull(b *testing.B) {
	b.ReportAllocs()
	release := make(chan struct{})
	q, err := workqueue.New(func(context.Context, int) error { <-release; return nil },
		workqueue.Options[int]{Workers: 1, Capacity: 1, Retry: retry.NoRetry()})
	if err != nil {
		b.Fatal(err)
	}
	_ = q.Submit(context.Background(), 0)
	_ = q.Submit(context.Background(), 1)
	for b.Loop() {
		if err := q.TrySubmit(2); err != workqueue.ErrFull {
			b.Fatal(err)
		}
	}
	close(release)
	_ = q.Shutdown(context.Background())
}

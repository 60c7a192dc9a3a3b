package bench

import (
	"context"
	"runtime"
	"testing"

	"github.com/sluicego/sluice/limit"
	"golang.org/x/sync/semaphore"
)

// BenchmarkSemaphore compares Acquire(1)+Release(1). uncontended: one
// goroutine, limit 10. contended: GOMAXPROCS×4 goroutines share limit 1.
func BenchmarkSemaphore(b *testing.B) {
	ctx := context.Background()
	type sem interface {
		Acquire(context.Context, int64) error
		Release(int64)
	}
	impls := []struct {
		name string
		new  func(int64) sem
	}{
		{"sluice", func(n int64) sem { return limit.NewSemaphore(n) }},
		{"x-sync-semaphore", func(n int64) sem { return semaphore.NewWeighted(n) }},
		{"channel", func(n int64) sem { return make(chanSem, n) }},
	}
	for _, impl := range impls {
		b.Run("uncontended/"+impl.name, func(b *testing.B) {
			s := impl.new(10)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Acquire(ctx, 1); err != nil {
					b.Fatal(err)
				}
				s.Release(1)
			}
		})
	}
	for _, impl := range impls {
		b.Run("contended/"+impl.name, func(b *testing.B) {
			s := impl.new(1)
			b.SetParallelism(4)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.Acquire(ctx, 1); err != nil {
						b.Error(err)
						return
					}
					runtime.Gosched() // hold the permit across a scheduling point
					s.Release(1)
				}
			})
		})
	}
}

// chanSem is the classic buffered-channel semaphore (weight 1 only).
type chanSem chan struct{}

func (c chanSem) Acquire(ctx context.Context, _ int64) error {
	select {
	case c <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c chanSem) Release(int64) { <-c }

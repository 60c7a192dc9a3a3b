package limit

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/semaphore"
)

// acquireAsync starts Acquire(ctx, n) in a goroutine and returns a channel
// that receives its result.
func acquireAsync(ctx context.Context, s *Semaphore, n int64) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Acquire(ctx, n) }()
	return ch
}

func requireResult(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	default:
		require.FailNow(t, "Acquire has not returned")
		return nil
	}
}

func requirePending(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		require.FailNow(t, "Acquire returned early", "err = %v", err)
	default:
	}
}

func TestNewSemaphoreNegativeLimitPanics(t *testing.T) {
	require.Panics(t, func() { NewSemaphore(-1) })
	s := NewSemaphore(1)
	require.Panics(t, func() { _ = s.Acquire(context.Background(), -1) })
	require.Panics(t, func() { s.TryAcquire(-1) })
	require.Panics(t, func() { s.Release(-1) })
	require.Panics(t, func() { s.SetLimit(-1) })
}

func TestSemaphoreFIFOOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(1)
		require.NoError(t, s.Acquire(t.Context(), 1))

		const n = 8
		var (
			mu    sync.Mutex
			order []int
		)
		for i := range n {
			go func() {
				if s.Acquire(t.Context(), 1) == nil {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
				}
			}()
			synctest.Wait() // goroutine i is queued before i+1 starts
		}
		require.Equal(t, n, s.Stats().Waiting)
		for i := range n {
			s.Release(1) // the permit held by the previous winner
			synctest.Wait()
			mu.Lock()
			require.Equal(t, i+1, len(order))
			mu.Unlock()
		}
		s.Release(1)
		assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7}, order)
		assert.Equal(t, SemaphoreStats{Limit: 1}, s.Stats())
	})
}

func TestSemaphoreLargeWaiterNotStarvedBySmallOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(10)
		require.NoError(t, s.Acquire(t.Context(), 5))

		large := acquireAsync(t.Context(), s, 10)
		synctest.Wait()
		small := acquireAsync(t.Context(), s, 1)
		synctest.Wait()

		// Five permits are free, but the small request queues behind the
		// large one, and TryAcquire does not jump the queue either.
		requirePending(t, large)
		requirePending(t, small)
		assert.False(t, s.TryAcquire(1))

		s.Release(5)
		synctest.Wait()
		require.NoError(t, requireResult(t, large))
		requirePending(t, small)

		s.Release(10)
		synctest.Wait()
		require.NoError(t, requireResult(t, small))
		s.Release(1)
		assert.Equal(t, SemaphoreStats{Limit: 10}, s.Stats())
	})
}

// The scenario of golang/go#37852; x/sync/semaphore v0.22.0 passes it too.
func TestCancelledHeadWaiterDoesNotStrandOthers_xsync37852(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(10)
		require.NoError(t, s.Acquire(t.Context(), 5))

		headCtx, cancelHead := context.WithCancel(t.Context())
		head := acquireAsync(headCtx, s, 10)
		synctest.Wait()
		b := acquireAsync(t.Context(), s, 3)
		synctest.Wait()
		c := acquireAsync(t.Context(), s, 2)
		synctest.Wait()
		require.Equal(t, 3, s.Stats().Waiting)

		cancelHead()
		synctest.Wait()
		require.ErrorIs(t, requireResult(t, head), context.Canceled)
		// Nobody released anything, yet b and c fit in the 5 free permits.
		require.NoError(t, requireResult(t, b))
		require.NoError(t, requireResult(t, c))
		assert.Equal(t, SemaphoreStats{Limit: 10, InUse: 10}, s.Stats())
		s.Release(10)
	})
}

func TestCancelledMiddleWaiterLeavesQueueIntact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(2)
		require.NoError(t, s.Acquire(t.Context(), 2))
		a := acquireAsync(t.Context(), s, 1)
		synctest.Wait()
		midCtx, cancelMid := context.WithCancel(t.Context())
		mid := acquireAsync(midCtx, s, 1)
		synctest.Wait()
		c := acquireAsync(t.Context(), s, 1)
		synctest.Wait()

		cancelMid()
		synctest.Wait()
		require.ErrorIs(t, requireResult(t, mid), context.Canceled)
		requirePending(t, a)
		requirePending(t, c)
		assert.Equal(t, 2, s.Stats().Waiting)

		s.Release(2)
		synctest.Wait()
		require.NoError(t, requireResult(t, a))
		require.NoError(t, requireResult(t, c))
		s.Release(2)
	})
}

func TestAcquireMoreThanLimitFailsFast_xsyncHang(t *testing.T) {
	// x/sync/semaphore blocks such a call until ctx ends: with
	// context.Background that is forever.
	s := NewSemaphore(10)
	err := s.Acquire(context.Background(), 11)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.False(t, s.TryAcquire(11))

	// Also when the semaphore is busy and has waiters.
	require.NoError(t, s.Acquire(context.Background(), 10))
	require.ErrorIs(t, s.Acquire(context.Background(), 11), ErrTooLarge)
	s.Release(10)

	zero := NewSemaphore(0)
	require.ErrorIs(t, zero.Acquire(context.Background(), 1), ErrTooLarge)
	require.NoError(t, zero.Acquire(context.Background(), 0))
	assert.Equal(t, SemaphoreStats{}, zero.Stats())
}

func TestAcquireWithDoneContextFails(t *testing.T) {
	s := NewSemaphore(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, s.Acquire(ctx, 1), context.Canceled)
	assert.Equal(t, SemaphoreStats{Limit: 1}, s.Stats())
}

func TestReleaseMoreThanHeldPanics(t *testing.T) {
	s := NewSemaphore(5)
	require.NoError(t, s.Acquire(context.Background(), 2))
	require.PanicsWithValue(t, "limit: Semaphore.Release of more permits than held", func() { s.Release(3) })
	assert.Equal(t, SemaphoreStats{Limit: 5, InUse: 2}, s.Stats(), "a failed Release changes nothing")
	s.Release(2)
	require.Panics(t, func() { s.Release(1) })
}

func TestSetLimitGrowWakesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(1)
		require.NoError(t, s.Acquire(t.Context(), 1))
		a := acquireAsync(t.Context(), s, 1)
		synctest.Wait()
		b := acquireAsync(t.Context(), s, 1)
		synctest.Wait()
		requirePending(t, a)
		requirePending(t, b)

		s.SetLimit(3) // no Release: growing alone grants both
		synctest.Wait()
		require.NoError(t, requireResult(t, a))
		require.NoError(t, requireResult(t, b))

		c := acquireAsync(t.Context(), s, 2)
		synctest.Wait()
		requirePending(t, c) // 3 in use, limit 3
		s.SetLimit(5)
		synctest.Wait()
		require.NoError(t, requireResult(t, c))
		assert.Equal(t, SemaphoreStats{Limit: 5, InUse: 5}, s.Stats())
		s.Release(5)
	})
}

func TestSetLimitShrinkAppliesAsPermitsReturn(t *testing.T) {
	s := NewSemaphore(4)
	require.NoError(t, s.Acquire(context.Background(), 4))
	s.SetLimit(2)
	assert.Equal(t, SemaphoreStats{Limit: 2, InUse: 4}, s.Stats(), "held permits are not revoked")
	assert.False(t, s.TryAcquire(1))
	s.Release(1)
	assert.False(t, s.TryAcquire(1), "3 in use > limit 2")
	s.Release(2)
	assert.True(t, s.TryAcquire(1), "1 in use < limit 2")
	assert.False(t, s.TryAcquire(1))
	s.Release(2)
	assert.Equal(t, SemaphoreStats{Limit: 2}, s.Stats())
}

func TestSetLimitShrinkBelowQueuedWaiterFailsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(10)
		require.NoError(t, s.Acquire(t.Context(), 10))
		big := acquireAsync(t.Context(), s, 8)
		synctest.Wait()
		small := acquireAsync(t.Context(), s, 2)
		synctest.Wait()

		s.SetLimit(5)
		synctest.Wait()
		require.ErrorIs(t, requireResult(t, big), ErrTooLarge)
		requirePending(t, small) // 10 in use > 5
		assert.Equal(t, 1, s.Stats().Waiting)

		s.Release(10)
		synctest.Wait()
		require.NoError(t, requireResult(t, small))
		s.Release(2)
		assert.Equal(t, SemaphoreStats{Limit: 5}, s.Stats())
	})
}

func TestSemaphoreStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSemaphore(3)
		assert.Equal(t, SemaphoreStats{Limit: 3}, s.Stats())
		require.True(t, s.TryAcquire(2))
		assert.Equal(t, SemaphoreStats{Limit: 3, InUse: 2}, s.Stats())
		ctx, cancel := context.WithCancel(t.Context())
		w1 := acquireAsync(ctx, s, 2)
		w2 := acquireAsync(ctx, s, 3)
		synctest.Wait()
		assert.Equal(t, SemaphoreStats{Limit: 3, InUse: 2, Waiting: 2}, s.Stats())
		cancel()
		synctest.Wait()
		require.ErrorIs(t, requireResult(t, w1), context.Canceled)
		require.ErrorIs(t, requireResult(t, w2), context.Canceled)
		assert.Equal(t, SemaphoreStats{Limit: 3, InUse: 2}, s.Stats())
		s.Release(2)
	})
}

// TestCancelRacingGrantNeverLeaksPermits makes ctx end at the same moment
// the permit is handed over; whatever Acquire returns must match what it holds.
func TestCancelRacingGrantNeverLeaksPermits(t *testing.T) {
	s := NewSemaphore(1)
	for range 2000 {
		require.NoError(t, s.Acquire(context.Background(), 1))
		ctx, cancel := context.WithCancel(context.Background())
		res := acquireAsync(ctx, s, 1)
		for s.Stats().Waiting == 0 {
			runtime.Gosched()
		}
		var wg sync.WaitGroup
		wg.Go(cancel)
		wg.Go(func() { s.Release(1) })
		wg.Wait()
		if err := <-res; err == nil {
			require.Equal(t, int64(1), s.Stats().InUse)
			s.Release(1)
		} else {
			require.ErrorIs(t, err, context.Canceled)
		}
		require.Equal(t, SemaphoreStats{Limit: 1}, s.Stats())
	}
}

func TestSemaphoreConcurrentStress(t *testing.T) {
	const (
		limit      = 10
		goroutines = 16
		iterations = 400
	)
	s := NewSemaphore(limit)
	var held atomic.Int64 // permits held according to successful Acquires
	var over atomic.Int64 // times an observer saw more than limit
	var wg sync.WaitGroup
	stop := make(chan struct{})

	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := s.Stats()
			if st.InUse > st.Limit || st.InUse < 0 || st.Waiting < 0 {
				over.Add(1)
			}
			runtime.Gosched()
		}
	})
	var workers sync.WaitGroup
	for g := range goroutines {
		workers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range iterations {
				n := rng.Int64N(4) + 1
				if rng.IntN(50) == 0 {
					n = limit + 1
				}
				ctx, cancel := context.WithCancel(context.Background())
				var canceller sync.WaitGroup
				if rng.IntN(3) == 0 {
					canceller.Go(cancel) // races with the Acquire below
				}
				err := s.Acquire(ctx, n)
				canceller.Wait()
				cancel()
				switch {
				case err == nil:
					if h := held.Add(n); h > limit {
						over.Add(1)
					}
					runtime.Gosched()
					held.Add(-n)
					s.Release(n)
				case n > limit:
					// ErrTooLarge, or ctx.Err() if ctx ended before the call.
					if !errors.Is(err, ErrTooLarge) && !errors.Is(err, context.Canceled) {
						over.Add(1000)
					}
				case !errors.Is(err, context.Canceled):
					over.Add(1000)
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	assert.Zero(t, over.Load(), "limit exceeded or unexpected error")
	assert.Equal(t, SemaphoreStats{Limit: limit}, s.Stats())
}

// TestSemaphoreStressWithSetLimit resizes the semaphore while goroutines
// use it; at the end nothing is held or queued.
func TestSemaphoreStressWithSetLimit(t *testing.T) {
	s := NewSemaphore(4)
	var workers sync.WaitGroup
	for g := range 8 {
		workers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for range 300 {
				n := rng.Int64N(3) + 1
				ctx, cancel := context.WithCancel(context.Background())
				var canceller sync.WaitGroup
				if rng.IntN(4) == 0 {
					canceller.Go(cancel)
				}
				err := s.Acquire(ctx, n)
				canceller.Wait()
				cancel()
				if err == nil {
					runtime.Gosched()
					s.Release(n)
				}
			}
		})
	}
	resizer := rand.New(rand.NewPCG(9, 9))
	for range 300 {
		s.SetLimit(resizer.Int64N(5) + 1) // 1..5: some waiters of 2 or 3 fail with ErrTooLarge
		runtime.Gosched()
	}
	s.SetLimit(5)
	workers.Wait()
	assert.Equal(t, SemaphoreStats{Limit: 5}, s.Stats())
}

func BenchmarkSemaphoreUncontended(b *testing.B) {
	s := NewSemaphore(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Acquire(ctx, 1)
		s.Release(1)
	}
}

func BenchmarkXSyncSemaphoreUncontended(b *testing.B) {
	s := semaphore.NewWeighted(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Acquire(ctx, 1)
		s.Release(1)
	}
}

func contendedLimit() int64 { return int64(max(1, runtime.GOMAXPROCS(0)/2)) }

func BenchmarkSemaphoreContended(b *testing.B) {
	s := NewSemaphore(contendedLimit())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
}

func BenchmarkXSyncSemaphoreContended(b *testing.B) {
	s := semaphore.NewWeighted(contendedLimit())
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
}

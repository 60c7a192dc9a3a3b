package limit

import (
	"context"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewAIMDDefaultsAndValidation(t *testing.T) {
	a, err := NewAIMD(AIMDOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), a.Limit())
	assert.Equal(t, AIMDOptions{Min: 1, Max: 100, Initial: 1, Backoff: 0.5}, a.o)
	assert.Equal(t, int64(1), a.Semaphore().Stats().Limit)

	a, err = NewAIMD(AIMDOptions{Initial: 500})
	require.NoError(t, err)
	assert.Equal(t, int64(500), a.o.Max, "default Max grows to fit Initial")

	for name, o := range map[string]AIMDOptions{
		"negative Min":     {Min: -1},
		"negative Max":     {Max: -1},
		"negative Initial": {Initial: -1},
		"negative Window":  {Window: -1},
		"Max below Min":    {Min: 10, Max: 5},
		"Initial above":    {Max: 5, Initial: 6},
		"Initial below":    {Min: 5, Initial: 2},
		"Backoff 1":        {Backoff: 1},
		"Backoff negative": {Backoff: -0.5},
		"Backoff NaN":      {Backoff: math.NaN()},
	} {
		_, err := NewAIMD(o)
		assert.ErrorIs(t, err, ErrInvalidOptions, name)
	}
}

func TestAIMDAdditiveIncreaseMultiplicativeDecrease(t *testing.T) {
	var changes []int64
	a, err := NewAIMD(AIMDOptions{Min: 2, Max: 6, Initial: 4, OnChange: func(l int64) { changes = append(changes, l) }})
	require.NoError(t, err)

	for range 3 {
		a.Success()
	}
	assert.Equal(t, int64(4), a.Limit(), "window = limit = 4 successes")
	a.Success()
	assert.Equal(t, int64(5), a.Limit())
	for range 5 + 6 + 6 {
		a.Success()
	}
	assert.Equal(t, int64(6), a.Limit(), "capped at Max")

	a.Overload()
	assert.Equal(t, int64(3), a.Limit())
	assert.Equal(t, int64(3), a.Semaphore().Stats().Limit, "drives the semaphore")
	a.Overload()
	assert.Equal(t, int64(2), a.Limit(), "floor at Min")
	a.Overload()
	assert.Equal(t, int64(2), a.Limit())
	assert.Equal(t, []int64{5, 6, 3, 2}, changes)
}

func TestAIMDCooldownOneDecreasePerInFlightGeneration(t *testing.T) {
	a, err := NewAIMD(AIMDOptions{Min: 1, Max: 64, Initial: 32})
	require.NoError(t, err)
	for range 32 {
		require.NoError(t, a.Acquire(context.Background()))
	}
	// All 32 requests sent under limit 32 come back overloaded.
	for range 32 {
		a.Overload()
		a.Release()
	}
	assert.Equal(t, int64(16), a.Limit(), "one decrease for one generation")

	// A request of the new generation that fails cuts again.
	require.NoError(t, a.Acquire(context.Background()))
	a.Overload()
	a.Release()
	assert.Equal(t, int64(8), a.Limit())
	assert.Equal(t, SemaphoreStats{Limit: 8}, a.Semaphore().Stats())
}

func TestAIMDOnChangeMayCallLimit(t *testing.T) {
	var a *AIMD
	var seen []int64
	a, err := NewAIMD(AIMDOptions{Initial: 8, Window: 1, OnChange: func(l int64) {
		assert.Equal(t, l, a.Limit())
		seen = append(seen, l)
	}})
	require.NoError(t, err)
	a.Success()
	a.Overload()
	assert.Equal(t, []int64{9, 4}, seen)
}

func TestAIMDConcurrentFeedbackStaysInRange(t *testing.T) {
	var mu sync.Mutex
	var last int64
	a, err := NewAIMD(AIMDOptions{Min: 2, Max: 20, Initial: 10, Window: 2, OnChange: func(l int64) {
		mu.Lock()
		last = l
		mu.Unlock()
	}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if err := a.Acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if l := a.Limit(); l < 2 || l > 20 {
					t.Errorf("limit %d out of range", l)
				}
				if (i+g)%7 == 0 {
					a.Overload()
				} else {
					a.Success()
				}
				a.Release()
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, a.Limit(), last, "the last OnChange reports the final limit")
	assert.Equal(t, int64(0), a.Semaphore().Stats().InUse)
}

// TestAIMDTracksServerCapacity drives an AIMD limit with a simulated server
// that reports overload whenever more requests are in flight than its
// capacity, and changes that capacity from 20 to 5 to 30.
func TestAIMDTracksServerCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, err := NewAIMD(AIMDOptions{Min: 1, Max: 60, Initial: 10})
		require.NoError(t, err)

		var (
			mu       sync.Mutex
			capacity int64 = 20
			inFlight int64
		)
		serve := func() (overload bool) {
			mu.Lock()
			inFlight++
			overload = inFlight > capacity
			mu.Unlock()
			if overload {
				time.Sleep(5 * time.Millisecond) // rejected quickly
			} else {
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			return overload
		}

		ctx, stop := context.WithCancel(t.Context())
		var clients sync.WaitGroup
		for range 80 { // more clients than Max: the limit is what binds
			clients.Go(func() {
				for a.Acquire(ctx) == nil {
					if serve() {
						a.Overload()
					} else {
						a.Success()
					}
					a.Release()
				}
			})
		}

		// phase runs for d with the given capacity and returns the range of
		// the limit over the second half of the phase.
		phase := func(c int64, d time.Duration) (lo, hi int64) {
			mu.Lock()
			capacity = c
			mu.Unlock()
			time.Sleep(d / 2)
			lo, hi = math.MaxInt64, 0
			for range 100 {
				time.Sleep(d / 200)
				l := a.Limit()
				lo, hi = min(lo, l), max(hi, l)
			}
			return lo, hi
		}
		lo, hi := phase(20, 10*time.Second)
		t.Logf("capacity 20: limit in [%d, %d]", lo, hi)
		assert.GreaterOrEqual(t, lo, int64(8))
		assert.LessOrEqual(t, hi, int64(24))

		lo, hi = phase(5, 10*time.Second)
		t.Logf("capacity 5: limit in [%d, %d]", lo, hi)
		assert.GreaterOrEqual(t, lo, int64(2))
		assert.LessOrEqual(t, hi, int64(7))

		lo, hi = phase(30, 10*time.Second)
		t.Logf("capacity 30: limit in [%d, %d]", lo, hi)
		assert.GreaterOrEqual(t, lo, int64(13))
		assert.LessOrEqual(t, hi, int64(34))

		stop()
		clients.Wait()
		assert.Equal(t, int64(0), a.Semaphore().Stats().InUse)
	})
}

func BenchmarkAIMDSuccess(b *testing.B) {
	a, err := NewAIMD(AIMDOptions{Max: 1000, Initial: 1000})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		a.Success()
	}
}

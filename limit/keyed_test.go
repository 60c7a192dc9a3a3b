package limit

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewKeyedInvalidLimitPanics(t *testing.T) {
	require.Panics(t, func() { NewKeyed[string](0) })
	require.Panics(t, func() { NewKeyed[string](-1) })
}

func TestKeyedPerKeyCapHoldsUnderConcurrency(t *testing.T) {
	const (
		limit   = 3
		keys    = 4
		perKey  = 8
		rounds  = 200
		maxSeen = limit
	)
	k := NewKeyed[int](limit)
	var inFlight, peak [keys]atomic.Int64
	var wg sync.WaitGroup
	for key := range keys {
		for range perKey {
			wg.Go(func() {
				for range rounds {
					release, err := k.Acquire(context.Background(), key)
					if err != nil {
						t.Error(err)
						return
					}
					n := inFlight[key].Add(1)
					for p := peak[key].Load(); n > p && !peak[key].CompareAndSwap(p, n); p = peak[key].Load() {
					}
					runtime.Gosched()
					inFlight[key].Add(-1)
					release()
				}
			})
		}
	}
	wg.Wait()
	for key := range keys {
		assert.LessOrEqual(t, peak[key].Load(), int64(maxSeen), "key %d", key)
		assert.Positive(t, peak[key].Load())
	}
	assert.Zero(t, k.Len())
}

func TestKeyedMillionDistinctKeysLeaveNoEntries(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 200_000
	}
	k := NewKeyed[int](2)
	var wg sync.WaitGroup
	const workers = 4
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				release, err := k.Acquire(context.Background(), i)
				if err != nil {
					t.Error(err)
					return
				}
				release()
			}
		})
	}
	wg.Wait()
	assert.Zero(t, k.Len())
}

func TestKeyedReleaseTwiceIsNoOp(t *testing.T) {
	k := NewKeyed[string](2)
	r1, err := k.Acquire(context.Background(), "h")
	require.NoError(t, err)
	r2, ok := k.TryAcquire("h")
	require.True(t, ok)
	_, ok = k.TryAcquire("h")
	require.False(t, ok, "cap of 2 reached")

	r1()
	r1() // must not release r2's permit
	r3, ok := k.TryAcquire("h")
	require.True(t, ok)
	_, ok = k.TryAcquire("h")
	require.False(t, ok, "the second r1() released nothing")
	r2()
	r3()
	r3()
	assert.Zero(t, k.Len())
}

func TestKeyedAcquireRespectsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := NewKeyed[string](1)
		release, err := k.Acquire(t.Context(), "a")
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err = k.Acquire(ctx, "a")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, 1, k.Len(), "the holder's entry stays")

		// Other keys are independent.
		rb, err := k.Acquire(t.Context(), "b")
		require.NoError(t, err)
		assert.Equal(t, 2, k.Len())
		rb()
		release()
		assert.Zero(t, k.Len())
	})
}

func TestKeyedWaiterKeepsEntryAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := NewKeyed[string](1)
		release, err := k.Acquire(t.Context(), "a")
		require.NoError(t, err)
		got := make(chan func(), 1)
		go func() {
			r, err := k.Acquire(t.Context(), "a")
			if err == nil {
				got <- r
			}
		}()
		synctest.Wait()
		release() // the holder leaves; the waiter still references the entry
		synctest.Wait()
		r := <-got
		assert.Equal(t, 1, k.Len())
		r()
		assert.Zero(t, k.Len())
	})
}

func TestKeyedFixedLimitAndFeedbackNoOps(t *testing.T) {
	k := NewKeyed[string](4)
	assert.Equal(t, int64(4), k.Limit("absent"))
	release, err := k.Acquire(context.Background(), "a")
	require.NoError(t, err)
	k.Overload("a") // not adaptive: no effect
	k.Success("absent")
	assert.Equal(t, int64(4), k.Limit("a"))
	release()
}

func TestNewAdaptiveKeyedValidation(t *testing.T) {
	_, err := NewAdaptiveKeyed[string](AIMDOptions{Min: 5, Max: 2})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = NewAdaptiveKeyed[string](AIMDOptions{OnChange: func(int64) {}})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

func TestAdaptiveKeyedPerKeyLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, err := NewAdaptiveKeyed[string](AIMDOptions{Min: 1, Max: 8, Initial: 4, Window: 1})
		require.NoError(t, err)
		assert.Equal(t, int64(4), k.Limit("a"))

		// Hold all 4 permits of "a"; each reports overload. The cooldown
		// makes that one decrease (4 -> 2), not four.
		var releases []func()
		for range 4 {
			r, ok := k.TryAcquire("a")
			require.True(t, ok)
			releases = append(releases, r)
		}
		_, ok := k.TryAcquire("a")
		require.False(t, ok)
		for _, r := range releases {
			k.Overload("a")
			r()
		}
		assert.Equal(t, int64(2), k.Limit("a"))
		assert.Equal(t, int64(4), k.Limit("b"), "keys adapt independently")

		// The learned limit survives a short idle period...
		assert.Equal(t, 1, k.Len())
		r1, ok := k.TryAcquire("a")
		require.True(t, ok)
		r2, ok := k.TryAcquire("a")
		require.True(t, ok)
		_, ok = k.TryAcquire("a")
		require.False(t, ok, "cap is 2 now")
		k.Success("a") // Window 1: +1 per success
		assert.Equal(t, int64(3), k.Limit("a"))
		r1()
		r2()

		// ...and is forgotten after adaptiveIdle without use.
		time.Sleep(2 * adaptiveIdle)
		assert.Zero(t, k.Len())
		assert.Equal(t, int64(4), k.Limit("a"))

		// A key back at Initial is dropped on its last release.
		r, ok := k.TryAcquire("c")
		require.True(t, ok)
		r()
		assert.Zero(t, k.Len())
	})
}

func BenchmarkKeyedAcquireRelease(b *testing.B) {
	k := NewKeyed[string](4)
	ctx := context.Background()
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "host" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		release, _ := k.Acquire(ctx, keys[i&63])
		release()
		i++
	}
}

package limit

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each key's own cap holds under concurrency, and every entry is gone once
// all holders have released.
func TestKeyedFuncPerKeyCapHoldsUnderConcurrency(t *testing.T) {
	const (
		keys   = 4
		perKey = 8
		rounds = 200
	)
	capOf := func(key int) int64 { return int64(key + 1) } // caps 1, 2, 3, 4
	k := NewKeyedFunc(capOf)
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
		assert.LessOrEqual(t, peak[key].Load(), capOf(key), "key %d", key)
		assert.Positive(t, peak[key].Load(), "key %d", key)
	}
	assert.Zero(t, k.Len(), "entries are evicted on the last release")
}

// TryAcquire admits exactly limitOf(key) holders per key, also when entries
// are recycled between keys with different caps.
func TestKeyedFuncExactCapPerKeyWithRecycledEntries(t *testing.T) {
	k := NewKeyedFunc(func(key string) int64 {
		n, _ := strconv.Atoi(key)
		return int64(n)
	})
	for range 3 { // entries deleted by one round are reused by the next
		for _, key := range []string{"1", "5", "2", "1"} {
			want, _ := strconv.Atoi(key)
			var releases []func()
			for range want {
				r, ok := k.TryAcquire(key)
				require.True(t, ok, "key %s", key)
				releases = append(releases, r)
			}
			_, ok := k.TryAcquire(key)
			assert.False(t, ok, "key %s is at its cap of %d", key, want)
			assert.Equal(t, int64(want), k.Limit(key))
			for _, r := range releases {
				r()
			}
			assert.Zero(t, k.Len())
		}
	}
}

// limitOf is asked once per entry: not again while the key is in use, and
// again after the entry was deleted.
func TestKeyedFuncCallsLimitOfWhenEntryIsCreated(t *testing.T) {
	var calls atomic.Int64
	k := NewKeyedFunc(func(string) int64 { calls.Add(1); return 2 })
	r1, err := k.Acquire(context.Background(), "a")
	require.NoError(t, err)
	r2, ok := k.TryAcquire("a")
	require.True(t, ok)
	assert.Equal(t, int64(2), k.Limit("a"))
	assert.Equal(t, int64(1), calls.Load(), "one entry, one call")
	r1()
	r2()
	assert.Zero(t, k.Len())
	r3, err := k.Acquire(context.Background(), "a")
	require.NoError(t, err)
	r3()
	assert.Equal(t, int64(2), calls.Load(), "a new entry asks again")
	assert.Equal(t, int64(2), k.Limit("absent"))
	assert.Equal(t, int64(3), calls.Load(), "Limit of a key with no entry asks limitOf")
}

func TestKeyedFuncInvalidLimitPanicsAndLeavesKeyedUsable(t *testing.T) {
	require.Panics(t, func() { NewKeyedFunc[string](nil) })
	k := NewKeyedFunc(func(key string) int64 {
		if key == "bad" {
			return 0
		}
		return 1
	})
	require.Panics(t, func() { _, _ = k.Acquire(context.Background(), "bad") })
	require.Panics(t, func() { _, _ = k.TryAcquire("bad") })
	require.Panics(t, func() { k.Limit("bad") })
	assert.Zero(t, k.Len(), "no entry was created")
	release, err := k.Acquire(context.Background(), "good") // the mutex was not left locked
	require.NoError(t, err)
	release()
	assert.Zero(t, k.Len())
}

// Waiters on a key of a NewKeyedFunc Keyed are served in arrival order.
func TestKeyedFuncWaitersAreFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := NewKeyedFunc(func(string) int64 { return 1 })
		release, err := k.Acquire(t.Context(), "h")
		require.NoError(t, err)
		order := make(chan int, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				r, err := k.Acquire(t.Context(), "h")
				if err != nil {
					return
				}
				order <- i
				r()
			})
			synctest.Wait() // i is queued before i+1 starts
		}
		release()
		wg.Wait()
		close(order)
		var got []int
		for i := range order {
			got = append(got, i)
		}
		assert.Equal(t, []int{0, 1, 2}, got)
		assert.Zero(t, k.Len())
	})
}

// Regression: Limit looked a key's entry up and read its semaphore after
// dropping the Keyed lock. Meanwhile the entry could be deleted, recycled for
// another key and given that key's cap: a data race, and Limit reported the
// other key's cap.
func TestKeyedFuncLimitNeverReportsARecycledEntrysCap(t *testing.T) {
	capOf := func(key int) int64 { return int64(key + 1) }
	k := NewKeyedFunc(capOf)
	var stop atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for key := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				if release, ok := k.TryAcquire(key); ok {
					release()
				}
			}
		})
		wg.Go(func() {
			for !stop.Load() {
				if got := k.Limit(key); got != capOf(key) {
					wrong.Add(1)
				}
			}
		})
	}
	for range 5000 {
		if release, ok := k.TryAcquire(99); ok {
			release()
		}
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, wrong.Load(), "Limit returned another key's cap")
}

func BenchmarkKeyedFuncAcquireRelease(b *testing.B) {
	k := NewKeyedFunc(func(key string) int64 {
		if key == "host0" {
			return 1
		}
		return 4
	})
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

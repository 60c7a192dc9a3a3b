package limit

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestNewKeyedRateInvalidArgumentsPanic(t *testing.T) {
	require.Panics(t, func() { NewKeyedRate[string](0, 1, 0) })
	require.Panics(t, func() { NewKeyedRate[string](-1, 1, 0) })
	require.Panics(t, func() { NewKeyedRate[string](1, 0, 0) })
	require.Panics(t, func() { NewKeyedRate[string](1, 1, -time.Second) })
	require.Panics(t, func() { NewKeyedDelay[string](0, 0) })
	require.NotPanics(t, func() { NewKeyedRate[string](rate.Inf, 0, 0) })
}

func TestKeyedRateHonoursRatePerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedRate[string](10, 2, 0) // 10/s, bursts of 2
		start := time.Now()
		var at []time.Duration
		for range 12 {
			require.NoError(t, l.Wait(t.Context(), "a"))
			at = append(at, time.Since(start))
		}
		// Two at once (the burst), then one every 100ms.
		assert.Zero(t, at[0])
		assert.Zero(t, at[1])
		for i := 2; i < len(at); i++ {
			assert.InDelta(t, float64(time.Duration(i-1)*100*time.Millisecond), float64(at[i]), float64(time.Millisecond), "event %d", i)
		}
		// Another key has its own full bucket.
		assert.True(t, l.Allow("b"))
		assert.True(t, l.Allow("b"))
		assert.False(t, l.Allow("b"))
		assert.False(t, l.Allow("a"))
	})
}

func TestKeyedRateConcurrentWaitersShareTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedRate[string](5, 1, 0) // one every 200ms
		start := time.Now()
		var (
			mu   sync.Mutex
			last time.Duration
		)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if l.Wait(t.Context(), "a") == nil {
					mu.Lock()
					last = max(last, time.Since(start))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.InDelta(t, float64(1800*time.Millisecond), float64(last), float64(time.Millisecond))
	})
}

func TestKeyedRateWaitRespectsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedRate[string](rate.Every(time.Hour), 1, 0)
		require.True(t, l.Allow("a"))

		// A ctx with a deadline that comes before the token: fail at once.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		start := time.Now()
		err := l.Wait(ctx, "a")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Zero(t, time.Since(start))

		// A ctx cancelled while waiting: return then, and give the token back.
		ctx, cancel = context.WithCancel(t.Context())
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		err = l.Wait(ctx, "a")
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, time.Second, time.Since(start))

		// The cancelled Wait's reservation was returned: the next event is
		// due one hour after the first, not two.
		require.NoError(t, l.Wait(t.Context(), "a"))
		assert.InDelta(t, float64(time.Hour), float64(time.Since(start)), float64(time.Millisecond))

		// An already done ctx fails without taking a token.
		done, cancelDone := context.WithCancel(t.Context())
		cancelDone()
		require.ErrorIs(t, l.Wait(done, "b"), context.Canceled)
		assert.True(t, l.Allow("b"))
	})
}

func TestKeyedRateEvictsIdleEntries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedRate[int](10, 1, time.Minute)
		for i := range 1000 {
			require.True(t, l.Allow(i))
		}
		assert.Equal(t, 1000, l.Len())
		time.Sleep(30 * time.Second)
		assert.Equal(t, 1000, l.Len(), "not idle long enough")
		time.Sleep(2 * time.Minute)
		assert.Zero(t, l.Len())
	})
}

func TestKeyedRateKeepsEntryWhoseBucketIsNotFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedRate[string](rate.Every(time.Hour), 1, time.Minute)
		require.True(t, l.Allow("slow"))
		time.Sleep(10 * time.Minute)
		// Idle for 10 minutes, but dropping it would hand out a fresh token
		// before the hour is up.
		assert.Equal(t, 1, l.Len())
		assert.False(t, l.Allow("slow"))
		time.Sleep(2 * time.Hour)
		assert.Zero(t, l.Len())
		assert.True(t, l.Allow("slow"))
	})
}

func TestKeyedDelaySpacesEventsPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := NewKeyedDelay[string](500*time.Millisecond, 0)
		start := time.Now()
		for i := range 3 {
			require.NoError(t, l.Wait(t.Context(), "host"))
			assert.InDelta(t, float64(time.Duration(i)*500*time.Millisecond), float64(time.Since(start)), float64(time.Millisecond))
		}
		require.NoError(t, l.Wait(t.Context(), "other"))
		assert.InDelta(t, float64(time.Second), float64(time.Since(start)), float64(time.Millisecond), "other keys do not wait")
	})
}

func TestKeyedRateInfiniteAllowsEverythingWithoutEntries(t *testing.T) {
	l := NewKeyedRate[string](rate.Inf, 0, 0)
	for range 100 {
		require.True(t, l.Allow("a"))
		require.NoError(t, l.Wait(context.Background(), "a"))
	}
	assert.Zero(t, l.Len())
}

func BenchmarkKeyedRateAllow(b *testing.B) {
	l := NewKeyedRate[string](1e9, 1<<30, 0)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "host" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i&63])
		i++
	}
}

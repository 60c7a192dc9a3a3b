package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errTransient = errors.New("transient")

func TestZeroPolicyUsesDocumentedDefaults(t *testing.T) {
	p := retry.Policy{Schedule: retry.Schedule{Jitter: retry.JitterNone}}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}
	for i, w := range want {
		assert.Equal(t, w, p.Delay(i+1), "attempt %d", i+1)
	}
	assert.Equal(t, 10*time.Second, p.Delay(20), "capped at the default Max")

	synctest.Test(t, func(t *testing.T) {
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{}, func(context.Context) error { calls++; return errTransient })
		assert.Equal(t, retry.DefaultMaxAttempts, calls)
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.ErrorIs(t, err, errTransient)
	})
}

// Peers panicked with zero jitter ranges (rand.Int63n(0)) or overflowed
// float64→int64 conversions at large attempt numbers (retry-go v4, sethvargo).
func TestDelayNeverPanicsOverflowsOrGoesNegative_retrygoV4_sethvargo(t *testing.T) {
	attempts := []int{math.MinInt, -1, 0, 1, 2, 30, 62, 63, 64, 100, 1000, 1 << 20, math.MaxInt}
	durations := []time.Duration{math.MinInt64, -1, 0, 1, time.Millisecond, time.Hour, math.MaxInt64 / 2, math.MaxInt64}
	mults := []float64{math.Inf(-1), -3, 0, 0.5, 1, 2, 1e300, math.Inf(1), math.NaN()}
	jitters := []retry.Jitter{retry.JitterFull, retry.JitterEqual, retry.JitterDecorrelated, retry.JitterNone, 99}
	for _, initial := range durations {
		for _, maxD := range durations {
			for _, m := range mults {
				for _, j := range jitters {
					p := retry.Policy{Schedule: retry.Schedule{Initial: initial, Max: maxD, Multiplier: m, Jitter: j}}
					capD := maxD
					if capD <= 0 {
						capD = retry.DefaultMax
					}
					b := retry.Backoff{Schedule: p.Schedule}
					for _, a := range attempts {
						d := p.Delay(a)
						require.GreaterOrEqual(t, d, time.Duration(0), "%+v attempt %d", p, a)
						require.LessOrEqual(t, d, capD, "%+v attempt %d", p, a)
						bd := b.Next()
						require.GreaterOrEqual(t, bd, time.Duration(0))
						require.LessOrEqual(t, bd, capD)
					}
				}
			}
		}
	}
}

func FuzzPolicyDelay(f *testing.F) {
	f.Add(int64(100*time.Millisecond), int64(10*time.Second), 2.0, uint8(0), 5, int64(0))
	f.Add(int64(0), int64(0), 0.0, uint8(3), math.MaxInt, int64(math.MaxInt64))
	f.Add(int64(math.MaxInt64), int64(1), math.Inf(1), uint8(2), 64, int64(-5))
	f.Fuzz(func(t *testing.T, initial, maxD int64, mult float64, jitter uint8, attempt int, hint int64) {
		p := retry.Policy{Schedule: retry.Schedule{Initial: time.Duration(initial), Max: time.Duration(maxD), Multiplier: mult, Jitter: retry.Jitter(jitter % 5)}}
		capD := time.Duration(maxD)
		if capD <= 0 {
			capD = retry.DefaultMax
		}
		d := p.Delay(attempt)
		if d < 0 || d > capD {
			t.Fatalf("Delay(%d) = %v outside [0, %v] for %+v", attempt, d, capD, p)
		}
		if base := p.Base(attempt); base < 0 || base > capD || d > base && p.Jitter != retry.JitterDecorrelated {
			t.Fatalf("Base(%d) = %v, Delay = %v, cap %v", attempt, base, d, capD)
		}
		b := retry.Backoff{Schedule: p.Schedule}
		for range 70 {
			if d := b.Next(); d < 0 || d > capD {
				t.Fatalf("Backoff.Next = %v outside [0, %v]", d, capD)
			}
		}
	})
}

func TestFullJitterSpreadsDelaysUniformly(t *testing.T) {
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Max: time.Second}}
	const n = 100_000
	var buckets [10]int
	var sum float64
	for range n {
		d := p.Delay(3)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.Less(t, d, time.Second)
		buckets[int(d*10/time.Second)]++
		sum += d.Seconds()
	}
	assert.InDelta(t, 0.5, sum/n, 0.01, "mean of U[0,1s) is 0.5s")
	for i, c := range buckets {
		assert.InDelta(t, n/10, c, n/100*1.5, "decile %d holds %d of %d", i, c, n)
	}
}

// AWS's legacy mode capped delays without jitter, so clients at the cap
// retried in lockstep. Here the cap applies before jitter.
func TestDelaysAtTheCapStayJittered_AWSLegacy(t *testing.T) {
	for _, j := range []retry.Jitter{retry.JitterFull, retry.JitterEqual, retry.JitterDecorrelated} {
		p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Max: 4 * time.Second, Jitter: j}}
		b := retry.Backoff{Schedule: p.Schedule}
		seen := map[time.Duration]bool{}
		for range 200 {
			seen[b.Next()] = true
		}
		assert.Greater(t, len(seen), 150, "jitter %d: delays at the cap must differ", j)
	}
}

func TestEqualAndDecorrelatedJitterRanges(t *testing.T) {
	eq := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Max: time.Minute, Jitter: retry.JitterEqual}}
	for a := 1; a < 10; a++ {
		base := eq.Base(a)
		for range 1000 {
			d := eq.Delay(a)
			require.GreaterOrEqual(t, d, base/2)
			require.LessOrEqual(t, d, base)
		}
	}
	dec := retry.Backoff{Schedule: retry.Schedule{Initial: time.Second, Max: time.Minute, Jitter: retry.JitterDecorrelated}}
	prev := time.Duration(0)
	for range 10_000 {
		d := dec.Next()
		hi := time.Minute
		if prev > 0 && prev*3 < hi {
			hi = prev * 3
		}
		require.GreaterOrEqual(t, d, time.Second)
		require.LessOrEqual(t, d, hi)
		prev = d
	}
}

func TestBackoffNextAndReset(t *testing.T) {
	b := retry.Backoff{Schedule: retry.Schedule{Initial: time.Second, Max: 5 * time.Second, Jitter: retry.JitterNone}}
	got := []time.Duration{b.Next(), b.Next(), b.Next(), b.Next()}
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}, got)
	assert.Equal(t, 4, b.Attempt())
	b.Reset()
	assert.Equal(t, 0, b.Attempt())
	assert.Equal(t, time.Second, b.Next())
}

func TestDoSucceedsAfterTransientFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}}, func(context.Context) error {
			calls++
			if calls < 3 {
				return errTransient
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 3, calls)
		assert.Equal(t, 3*time.Second, time.Since(start), "waited 1s then 2s")
	})
}

func TestDoValueReturnsValueOrZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		v, err := retry.DoValue(t.Context(), retry.Policy{}, func(context.Context) (string, error) {
			calls++
			if calls == 1 {
				return "partial", errTransient
			}
			return "ok", nil
		})
		require.NoError(t, err)
		assert.Equal(t, "ok", v)

		v, err = retry.DoValue(t.Context(), retry.Policy{MaxAttempts: 2}, func(context.Context) (string, error) {
			return "partial", errTransient
		})
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.Empty(t, v, "a failed DoValue returns the zero value")
	})
}

// retry-go #31: OnRetry fired after the final attempt, announcing a retry that
// never happened.
func TestOnRetryNotCalledAfterLastAttempt_retrygo31(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts []int
		var delays []time.Duration
		p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: 3, OnRetry: func(attempt int, err error, delay time.Duration) {
			assert.ErrorIs(t, err, errTransient)
			attempts = append(attempts, attempt)
			delays = append(delays, delay)
		}}
		calls := 0
		err := retry.Do(t.Context(), p, func(context.Context) error { calls++; return errTransient })
		assert.Equal(t, 3, calls)
		assert.Equal(t, []int{1, 2}, attempts)
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, delays)
		var re *retry.Error
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 3, re.Attempts)
	})
}

// cenkalti/backoff v5 and sethvargo/go-retry returned only ctx.Err() when the
// context ended during a wait, losing the error that caused the retry.
func TestLastErrorKeptWhenContextEndsDuringWait_backoffV5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		lastErr := errors.New("attempt 2 failed")
		calls := 0
		err := retry.Do(ctx, retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: -1}, func(context.Context) error {
			calls++
			if calls == 2 {
				return lastErr
			}
			return errTransient
		})
		assert.Equal(t, 1500*time.Millisecond, time.Since(start), "returns the moment ctx ends, mid-wait")
		assert.Equal(t, 2, calls)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, lastErr)
		assert.NotErrorIs(t, err, retry.ErrExhausted)
	})
}

func TestCallerContextErrorIsNeverRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := retry.Do(ctx, retry.Policy{MaxAttempts: -1, Retryable: func(error) bool { return true }}, func(ctx context.Context) error {
			calls++
			cancel()
			return ctx.Err()
		})
		assert.Equal(t, 1, calls)
		assert.ErrorIs(t, err, context.Canceled)

		// A deadline of the operation's own (a per-attempt timeout) is transient.
		calls = 0
		err = retry.Do(t.Context(), retry.Policy{}, func(ctx context.Context) error {
			calls++
			if calls < 3 {
				return context.DeadlineExceeded
			}
			return nil
		})
		assert.NoError(t, err)
		assert.Equal(t, 3, calls)

		// A context that ended before Do: fn is not called.
		calls = 0
		err = retry.Do(ctx, retry.Policy{}, func(context.Context) error { calls++; return nil })
		assert.ErrorIs(t, err, context.Canceled)
		assert.Zero(t, calls)
	})
}

// The rule for the Permanent mark, the same in every package: it counts
// wherever it is in the chain and it is never removed.
func TestPermanentStopsAtOnceAndKeepsItsMark(t *testing.T) {
	inner := errors.New("401 unauthorized")
	calls := 0
	marked := retry.Permanent(inner)
	err := retry.Do(t.Context(), retry.Policy{}, func(context.Context) error { calls++; return marked })
	assert.Equal(t, 1, calls)
	assert.Same(t, marked, err, "returned as fn returned it")
	assert.True(t, retry.IsPermanent(err), "the mark stays")
	assert.ErrorIs(t, err, inner)
	assert.Equal(t, inner.Error(), err.Error(), "the mark adds nothing to the message")
	assert.Nil(t, retry.Permanent(nil))

	wrapped := fmt.Errorf("dial: %w", retry.Permanent(inner))
	assert.True(t, retry.IsPermanent(wrapped))
	err = retry.Do(t.Context(), retry.Policy{}, func(context.Context) error { return wrapped })
	assert.Same(t, wrapped, err, "a deeper mark stops too; the error is returned as is")
	assert.False(t, retry.IsPermanent(inner))
}

func TestRetryablePredicate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fatal := errors.New("fatal")
		calls := 0
		p := retry.Policy{Retryable: func(err error) bool { return errors.Is(err, errTransient) }}
		err := retry.Do(t.Context(), p, func(context.Context) error {
			calls++
			if calls < 3 {
				return errTransient
			}
			return fatal
		})
		assert.Equal(t, 3, calls)
		assert.Same(t, fatal, err)
	})
}

// MaxElapsed counts from the first attempt's start, attempt run time included
// (backoff #188), and Do does not begin a wait that would end past it.
func TestMaxElapsedCountsAttemptTimeAndIsCheckedBeforeSleeping_backoff188(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: -1, MaxElapsed: 10 * time.Second}
		err := retry.Do(t.Context(), p, func(context.Context) error {
			calls++
			time.Sleep(2 * time.Second) // the attempt itself takes time
			return errTransient
		})
		// t=0..2 attempt 1; wait 1s; t=3..5 attempt 2; wait 2s; t=7..9 attempt 3;
		// the next wait (4s) would end at 13s > 10s: stop at 9s without sleeping.
		assert.Equal(t, 3, calls)
		assert.Equal(t, 9*time.Second, time.Since(start))
		assert.ErrorIs(t, err, retry.ErrMaxElapsed)
		assert.ErrorIs(t, err, errTransient)
	})
}

// backoff #159: a default MaxElapsed of 15 minutes silently disabled retries
// for slow operations. The zero Policy has no time limit.
func TestZeroMaxElapsedNeverDisablesRetries_backoff159(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{}, func(context.Context) error {
			calls++
			time.Sleep(20 * time.Minute)
			return errTransient
		})
		assert.Equal(t, retry.DefaultMaxAttempts, calls)
		assert.ErrorIs(t, err, retry.ErrExhausted)
	})
}

// go-retryablehttp #247: a Retry-After of days was obeyed. After hints are
// honoured as a minimum but capped by MaxHint.
func TestAfterHintHonouredButCapped_retryablehttp247(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var waits []time.Duration
		last := time.Now()
		calls := 0
		p := retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, MaxHint: 5 * time.Second}, MaxAttempts: 3}
		err := retry.Do(t.Context(), p, func(context.Context) error {
			now := time.Now()
			if calls > 0 {
				waits = append(waits, now.Sub(last))
			}
			last = now
			calls++
			if calls == 1 {
				return retry.After(errTransient, 2*time.Second)
			}
			return retry.After(errTransient, 484289*time.Hour)
		})
		assert.ErrorIs(t, err, retry.ErrExhausted)
		require.Len(t, waits, 2)
		assert.GreaterOrEqual(t, waits[0], 2*time.Second)
		assert.LessOrEqual(t, waits[0], 2200*time.Millisecond, "hint plus at most 10% jitter")
		assert.GreaterOrEqual(t, waits[1], 5*time.Second)
		assert.LessOrEqual(t, waits[1], 5500*time.Millisecond, "capped at MaxHint plus at most 10%")
		d, ok := retry.Hint(fmt.Errorf("wrapped: %w", retry.After(errTransient, time.Second)))
		assert.True(t, ok)
		assert.Equal(t, time.Second, d)
		assert.Nil(t, retry.After(nil, time.Second))
	})
}

func TestAfterHintStillSubjectToRetryable(t *testing.T) {
	calls := 0
	err := retry.Do(t.Context(), retry.Policy{Retryable: func(error) bool { return false }}, func(context.Context) error {
		calls++
		return retry.After(errTransient, time.Hour)
	})
	assert.Equal(t, 1, calls)
	assert.ErrorIs(t, err, errTransient)
}

// failsafe-go's budget loaded, then added without a CAS, so concurrent callers
// overshot it. Here exactly the retries the tokens allow are granted.
func TestBudgetNeverOvershootsUnderRace_failsafe(t *testing.T) {
	b := retry.NewBudget(10, 0.1)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if b.Failure() {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	// 10 tokens: failures leave 9, 8, 7, 6 (> 5: retry allowed), then 5, 4, ... 0.
	assert.Equal(t, int64(4), allowed.Load())
	assert.Equal(t, 0.0, b.Tokens(), "never below zero")
	assert.False(t, b.Allow())

	for range 1000 {
		wg.Go(b.Success)
	}
	wg.Wait()
	assert.Equal(t, 10.0, b.Tokens(), "never above MaxTokens")
	assert.True(t, b.Allow())

	assert.Panics(t, func() { retry.NewBudget(0, 0.1) })
	assert.Panics(t, func() { retry.NewBudget(10, 0) })
	assert.Panics(t, func() { retry.NewBudget(math.NaN(), 1) })
}

func TestBudgetStopsARetryStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.NewBudget(10, 0.1)
		p := retry.Policy{MaxAttempts: 10, Budget: b}
		var calls atomic.Int64
		var wg sync.WaitGroup
		var budgetStops atomic.Int64
		for range 50 {
			wg.Go(func() {
				err := retry.Do(t.Context(), p, func(context.Context) error { calls.Add(1); return errTransient })
				if errors.Is(err, retry.ErrBudget) {
					budgetStops.Add(1)
					assert.ErrorIs(t, err, errTransient)
				}
			})
		}
		wg.Wait()
		// Without the budget: 50 callers × 10 attempts = 500 calls.
		assert.LessOrEqual(t, calls.Load(), int64(50+4), "first attempts plus the 4 retries the budget allows")
		assert.GreaterOrEqual(t, budgetStops.Load(), int64(46))
	})
}

func TestBudgetRefillsOnSuccess(t *testing.T) {
	b := retry.NewBudget(10, 1)
	for range 10 {
		b.Failure()
	}
	assert.False(t, b.Allow())
	for range 6 {
		require.NoError(t, retry.Do(t.Context(), retry.Policy{Budget: b}, func(context.Context) error { return nil }))
	}
	assert.Equal(t, 6.0, b.Tokens())
	assert.True(t, b.Allow())
}

func TestErrorMessageNamesReasonAndLastError(t *testing.T) {
	err := &retry.Error{Reason: retry.ErrExhausted, Last: errTransient, Attempts: 3}
	assert.Equal(t, "retry: attempts exhausted after 3 attempt(s): transient", err.Error())
}

func BenchmarkDoFirstTrySuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.Policy{}
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := retry.Do(ctx, p, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoValueFirstTrySuccess(b *testing.B) {
	ctx := context.Background()
	p := retry.Policy{}
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := retry.DoValue(ctx, p, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDoThreeAttemptsZeroDelay(b *testing.B) {
	ctx := context.Background()
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Nanosecond, Max: time.Nanosecond, Jitter: retry.JitterFull}}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := retry.Do(ctx, p, func(context.Context) error {
			n++
			if n < 3 {
				return errTransient
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPolicyDelay(b *testing.B) {
	p := retry.Policy{}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = p.Delay(i%40 + 1)
	}
}

// A loop that schedules attempts itself (a work queue) gets the same
// decisions from Next as Do makes.
func TestNextDecidesLikeDo(t *testing.T) {
	var onRetry []int
	p := retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: 3, OnRetry: func(attempt int, _ error, _ time.Duration) { onRetry = append(onRetry, attempt) }}
	ctx := t.Context()
	d, err := p.Next(ctx, errTransient, 1, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, time.Second, d)
	d, err = p.Next(ctx, errTransient, 2, d, time.Second)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, d)
	_, err = p.Next(ctx, errTransient, 3, d, 3*time.Second)
	assert.ErrorIs(t, err, retry.ErrExhausted)
	assert.Equal(t, []int{1, 2}, onRetry)

	marked := retry.Permanent(errTransient)
	_, err = p.Next(ctx, marked, 1, 0, 0)
	assert.Same(t, marked, err)

	p.MaxElapsed = 1500 * time.Millisecond
	_, err = p.Next(ctx, errTransient, 1, 0, time.Second)
	assert.ErrorIs(t, err, retry.ErrMaxElapsed)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = p.Next(cctx, errTransient, 1, 0, 0)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, errTransient)
}

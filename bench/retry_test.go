package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	avast "github.com/avast/retry-go/v4"
	cenkalti "github.com/cenkalti/backoff/v5"
	sethvargo "github.com/sethvargo/go-retry"
	"github.com/sluicego/sluice/retry"
)

var errFlaky = errors.New("flaky")

// BenchmarkRetry compares retry loops. first-try: the operation succeeds at
// once (the common case, which should cost nothing). three-attempts: it fails
// twice, then succeeds, with no delay between attempts.
func BenchmarkRetry(b *testing.B) {
	ctx := context.Background()
	b.Run("first-try/sluice", func(b *testing.B) {
		p := retry.Policy{}
		op := func(context.Context) error { return nil }
		b.ReportAllocs()
		for b.Loop() {
			if err := retry.Do(ctx, p, op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-try/cenkalti-backoff-v5", func(b *testing.B) {
		op := func() (struct{}, error) { return struct{}{}, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cenkalti.Retry(ctx, op); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-try/avast-retry-go-v4", func(b *testing.B) {
		op := func() error { return nil }
		b.ReportAllocs()
		for b.Loop() {
			if err := avast.Do(op, avast.Context(ctx)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-try/sethvargo-go-retry", func(b *testing.B) {
		op := func(context.Context) error { return nil }
		b.ReportAllocs()
		for b.Loop() {
			bo := sethvargo.WithMaxRetries(4, sethvargo.NewExponential(100*time.Millisecond))
			if err := sethvargo.Do(ctx, bo, op); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("three-attempts/sluice", func(b *testing.B) {
		p := retry.Policy{Schedule: retry.Schedule{Initial: retry.NoDelay}, MaxAttempts: 3}
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := retry.Do(ctx, p, func(context.Context) error {
				if n++; n < 3 {
					return errFlaky
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-attempts/cenkalti-backoff-v5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if _, err := cenkalti.Retry(ctx, func() (struct{}, error) {
				if n++; n < 3 {
					return struct{}{}, errFlaky
				}
				return struct{}{}, nil
			}, cenkalti.WithBackOff(&cenkalti.ZeroBackOff{}), cenkalti.WithMaxTries(3)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-attempts/avast-retry-go-v4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			if err := avast.Do(func() error {
				if n++; n < 3 {
					return errFlaky
				}
				return nil
			}, avast.Context(ctx), avast.Attempts(3), avast.Delay(0), avast.DelayType(avast.FixedDelay)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-attempts/sethvargo-go-retry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			bo := sethvargo.WithMaxRetries(2, sethvargo.NewConstant(time.Nanosecond))
			if err := sethvargo.Do(ctx, bo, func(context.Context) error {
				if n++; n < 3 {
					return sethvargo.RetryableError(errFlaky)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

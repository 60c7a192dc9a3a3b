package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sluicego/sluice/limit"
	"github.com/sony/gobreaker/v2"
)

// breakerImpl is one library's circuit breaker, closed, driven two ways:
// step admits a call and reports a success (sluice Allow+Done, gobreaker's
// TwoStepCircuitBreaker Allow+done, failsafe-go TryAcquirePermit+
// RecordSuccess); exec runs a no-op through the breaker's own wrapper
// (sluice Do, gobreaker Execute, failsafe-go's executor Run).
type breakerImpl struct {
	name string
	new  func(b *testing.B, rate bool) (step func() bool, exec func() error)
}

var breakerImpls = []breakerImpl{
	{"sluice", func(b *testing.B, rate bool) (func() bool, func() error) {
		o := limit.BreakerOptions{} // 5 consecutive failures
		if rate {
			o = limit.BreakerOptions{FailureRate: 0.5, MinCalls: 20, Window: 10 * time.Second}
		}
		br, err := limit.NewBreaker(o)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		noop := func(context.Context) error { return nil }
		return func() bool {
				p, err := br.Allow()
				if err != nil {
					return false
				}
				p.Done(true)
				return true
			}, func() error {
				return br.Do(ctx, noop)
			}
	}},
	{"gobreaker-v2", func(b *testing.B, rate bool) (func() bool, func() error) {
		st := gobreaker.Settings{} // default: trips after more than 5 consecutive failures
		if rate {
			st = gobreaker.Settings{Interval: 10 * time.Second, BucketPeriod: time.Second, ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.Requests >= 20 && float64(c.TotalFailures) >= 0.5*float64(c.Requests)
			}}
		}
		two := gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
		cb := gobreaker.NewCircuitBreaker[struct{}](st)
		noop := func() (struct{}, error) { return struct{}{}, nil }
		return func() bool {
				done, err := two.Allow()
				if err != nil {
					return false
				}
				done(nil)
				return true
			}, func() error {
				_, err := cb.Execute(noop)
				return err
			}
	}},
	{"failsafe-go", func(b *testing.B, rate bool) (func() bool, func() error) {
		build := func() circuitbreaker.CircuitBreaker[any] {
			if rate {
				return circuitbreaker.NewBuilder[any]().WithFailureRateThreshold(0.5, 20, 10*time.Second).Build()
			}
			return circuitbreaker.NewBuilder[any]().WithFailureThreshold(5).Build()
		}
		cb := build()
		exec := failsafe.With[any](build())
		noop := func() error { return nil }
		return func() bool {
				if !cb.TryAcquirePermit() {
					return false
				}
				cb.RecordSuccess()
				return true
			}, func() error {
				return exec.Run(noop)
			}
	}},
}

// BenchmarkBreaker compares circuit breakers on the closed path, where a
// breaker spends nearly all its life. allow-done: admit a call and report a
// success. execute: run a no-op through the library's wrapper. consecutive:
// the breaker trips on 5 failures in a row; rate: on 50% failures over 10s
// (20 calls at least). serial: one goroutine; parallel: GOMAXPROCS
// goroutines share one breaker.
func BenchmarkBreaker(b *testing.B) {
	for _, rule := range []string{"consecutive", "rate"} {
		for _, mode := range []string{"allow-done", "execute"} {
			if rule == "rate" && mode == "execute" {
				continue // the wrappers add the same cost in both rules
			}
			for _, par := range []string{"serial", "parallel"} {
				for _, impl := range breakerImpls {
					b.Run(mode+"-"+rule+"-"+par+"/"+impl.name, func(b *testing.B) {
						step, exec := impl.new(b, rule == "rate")
						one := func() bool { return step() }
						if mode == "execute" {
							one = func() bool { return exec() == nil }
						}
						b.ReportAllocs()
						if par == "serial" {
							for b.Loop() {
								if !one() {
									b.Fatal("rejected")
								}
							}
							return
						}
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if !one() {
									b.Error("rejected")
									return
								}
							}
						})
					})
				}
			}
		}
	}
}

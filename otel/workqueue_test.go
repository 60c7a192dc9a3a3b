package sluiceotel_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"

	sluiceotel "github.com/sluicego/sluice/otel"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

// TestWorkqueueMetricsAndSpansFromARealRun runs a queue on the fake clock:
// job 1 succeeds, job 2 fails once and then succeeds, job 3 fails
// permanently.
func TestWorkqueueMetricsAndSpansFromARealRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, reader, rec := setup(t, true)
		var failedOnce atomic.Bool
		handler := func(ctx context.Context, job int) error {
			time.Sleep(50 * time.Millisecond) // the fake clock: each attempt takes exactly 50ms
			switch {
			case job == 2 && !failedOnce.Swap(true):
				return errors.New("transient")
			case job == 3:
				return retry.Permanent(errors.New("poison"))
			}
			return nil
		}
		var userResults atomic.Int32
		opts := sluiceotel.InstrumentWorkqueue(workqueue.Options[int]{
			Workers:  1,
			Capacity: 3,
			Retry:    &retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone}, MaxAttempts: 3},
			OnResult: func(workqueue.Result[int]) { userResults.Add(1) },
		}, cfg)
		q, err := workqueue.New(sluiceotel.WrapHandler(handler, cfg), opts)
		require.NoError(t, err)
		reg, err := sluiceotel.ObserveQueue(q, cfg)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()

		for job := 1; job <= 3; job++ {
			require.NoError(t, q.Submit(context.Background(), job))
		}
		synctest.Wait() // job 1's attempt runs; 2 and 3 wait in the buffer
		p := points(t, reader)
		assert.Equal(t, 1.0, p["sluice.workqueue.running{}"])
		assert.Equal(t, 2.0, p["sluice.workqueue.queued{}"])
		assert.Equal(t, 3.0, p["sluice.workqueue.submitted{}"])

		time.Sleep(100 * time.Millisecond) // job 1 done, job 2's first attempt failed
		synctest.Wait()
		p = points(t, reader)
		assert.Equal(t, 1.0, p["sluice.workqueue.retrying{}"], "job 2 waits out its backoff")
		assert.Equal(t, 1.0, p["sluice.workqueue.retries{}"])

		require.NoError(t, q.Shutdown(context.Background()))
		assert.EqualValues(t, 3, userResults.Load(), "the user's OnResult still runs")

		p = points(t, reader)
		assert.Equal(t, map[string]float64{
			"sluice.workqueue.jobs{sluice.outcome=succeeded}": 2,
			"sluice.workqueue.jobs{sluice.outcome=failed}":    1,
		}, named(p, "sluice.workqueue.jobs"))
		assert.Equal(t, 2.0, p["sluice.workqueue.job.attempts{sluice.outcome=succeeded}"])
		assert.Equal(t, 3.0, p["sluice.workqueue.job.attempts{sluice.outcome=succeeded}.sum"], "1 + 2 attempts")
		assert.Equal(t, 1.0, p["sluice.workqueue.job.attempts{sluice.outcome=failed}.sum"])
		assert.Equal(t, 2.0, p["sluice.workqueue.attempt.duration{sluice.outcome=ok}"])
		assert.Equal(t, 2.0, p["sluice.workqueue.attempt.duration{sluice.outcome=error}"])
		assert.InDelta(t, 0.1, p["sluice.workqueue.attempt.duration{sluice.outcome=ok}.sum"], 1e-9, "two attempts of 50ms")
		assert.Equal(t, 0.0, p["sluice.workqueue.queued{}"])
		assert.Equal(t, 0.0, p["sluice.workqueue.running{}"])
		assert.Equal(t, 0.0, p["sluice.workqueue.retrying{}"])

		spans := rec.Ended()
		require.Len(t, spans, 4, "one span per attempt")
		type attempt struct {
			n    string
			code codes.Code
		}
		var got []attempt
		for _, s := range spans {
			assert.Equal(t, "sluice.workqueue.attempt", s.Name())
			assert.Equal(t, 50*time.Millisecond, s.EndTime().Sub(s.StartTime()))
			got = append(got, attempt{attrMap(s.Attributes())["sluice.attempt"], s.Status().Code})
		}
		assert.Equal(t, []attempt{
			{"1", codes.Unset}, // job 1
			{"1", codes.Error}, // job 2, transient
			{"1", codes.Error}, // job 3, poison
			{"2", codes.Unset}, // job 2's retry
		}, got)
		assert.Equal(t, "poison", spans[2].Status().Description)
	})
}

func TestWrapHandlerPanicIsAFailedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, reader, rec := setup(t, true)
		q, err := workqueue.New(sluiceotel.WrapHandler(func(context.Context, int) error { panic("boom") }, cfg),
			sluiceotel.InstrumentWorkqueue(workqueue.Options[int]{Workers: 1, Retry: retry.NoRetry()}, cfg))
		require.NoError(t, err)
		require.NoError(t, q.Submit(context.Background(), 1))
		require.NoError(t, q.Shutdown(context.Background()))
		p := points(t, reader)
		assert.Equal(t, 1.0, p["sluice.workqueue.jobs{sluice.outcome=failed}"])
		assert.Equal(t, 1.0, p["sluice.workqueue.attempt.duration{sluice.outcome=error}"])
		spans := rec.Ended()
		require.Len(t, spans, 1)
		assert.Equal(t, codes.Error, spans[0].Status().Code)
		assert.Equal(t, "panic", attrMap(spans[0].Attributes())["error.type"])
	})
}

package sluiceotel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicego/sluice/workqueue"
)

// WorkqueueOutcome returns the sluice.outcome value of a job's outcome: its
// [workqueue.Outcome.String] ("succeeded", "failed", "canceled",
// "dropped").
func WorkqueueOutcome(o workqueue.Outcome) string { return o.String() }

// InstrumentWorkqueue returns o with OnResult wrapped: each job's Result is
// recorded, then passed to the OnResult already set, if any. It records
// sluice.workqueue.jobs (a counter by sluice.outcome) and
// sluice.workqueue.job.attempts (a histogram of the handler calls per job,
// by sluice.outcome). Gauges of the queue (depth, running, retrying) come
// from [ObserveQueue]; handler time and spans per attempt from [WrapHandler].
func InstrumentWorkqueue[T any](o workqueue.Options[T], cfg Config) workqueue.Options[T] {
	m := cfg.meter()
	jobs, err := m.Int64Counter("sluice.workqueue.jobs", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs that reached their outcome."))
	handle(err)
	attempts, err := m.Int64Histogram("sluice.workqueue.job.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Handler calls a job took, by the job's outcome."),
		metric.WithExplicitBucketBoundaries(1, 2, 3, 4, 5, 7, 10, 15, 20, 50))
	handle(err)
	var byOutcome [5]metric.MeasurementOption
	for _, oc := range []workqueue.Outcome{workqueue.OutcomeSucceeded, workqueue.OutcomeFailed,
		workqueue.OutcomeCanceled, workqueue.OutcomeDropped} {
		byOutcome[oc] = cfg.with(OutcomeKey.String(WorkqueueOutcome(oc)))
	}
	user := o.OnResult
	o.OnResult = func(r workqueue.Result[T]) {
		var opt metric.MeasurementOption
		if r.Outcome > 0 && int(r.Outcome) < len(byOutcome) {
			opt = byOutcome[r.Outcome]
		} else {
			opt = cfg.with(OutcomeKey.String(WorkqueueOutcome(r.Outcome)))
		}
		ctx := context.Background()
		jobs.Add(ctx, 1, opt)
		attempts.Record(ctx, int64(r.Attempts), opt)
		if user != nil {
			user(r)
		}
	}
	return o
}

// WrapHandler returns a handler that calls h and records each call as one
// job attempt: its time in the sluice.workqueue.attempt.duration histogram
// (seconds, by sluice.outcome "ok" or "error"; a panic counts as "error"),
// and, when cfg.TracerProvider is set, a span named
// "sluice.workqueue.attempt" with sluice.attempt (from
// [workqueue.Attempt]) and, on failure, the error recorded and the status
// set to Error. The span's context is passed to h, so spans h starts are its
// children. A panic or runtime.Goexit in h is not recovered: it goes on to
// the queue, which reports the attempt as failed.
//
// Time a job spends in the buffer or waiting out a retry backoff is not
// part of any attempt; a queue's Result carries no timestamps, so the time
// from Submit to the outcome is not recorded (put a submit time in T and
// record it in OnResult if you need it).
func WrapHandler[T any](h func(context.Context, T) error, cfg Config) func(context.Context, T) error {
	m := cfg.meter()
	duration, err := m.Float64Histogram("sluice.workqueue.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of one handler call."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	okOpt := cfg.with(OutcomeKey.String("ok"))
	errOpt := cfg.with(OutcomeKey.String("error"))
	tr := cfg.tracer()
	return func(ctx context.Context, job T) (err error) {
		var span trace.Span
		if tr != nil {
			ctx, span = tr.Start(ctx, "sluice.workqueue.attempt",
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(AttemptKey.Int(workqueue.Attempt(ctx))))
		}
		start := time.Now()
		returned := false
		defer func() {
			elapsed := time.Since(start).Seconds()
			if !returned || err != nil {
				duration.Record(context.Background(), elapsed, errOpt)
			} else {
				duration.Record(context.Background(), elapsed, okOpt)
			}
			if span == nil {
				return
			}
			switch {
			case !returned:
				span.SetAttributes(attribute.String("error.type", "panic"))
				span.SetStatus(codes.Error, "handler panicked or called runtime.Goexit")
			case err != nil:
				span.RecordError(err)
				span.SetAttributes(attribute.String("error.type", "error"))
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}()
		err = h(ctx, job)
		returned = true
		return err
	}
}

// ObserveQueue registers callbacks that report q's [workqueue.Stats] at
// each collection: sluice.workqueue.queued (the queue depth),
// sluice.workqueue.running and sluice.workqueue.retrying (gauges), and
// sluice.workqueue.submitted and sluice.workqueue.retries (counters), with
// cfg.Attributes. Unregister the returned Registration when q is shut down.
func ObserveQueue[T any](q *workqueue.Queue[T], cfg Config) (metric.Registration, error) {
	m := cfg.meter()
	queued, err := m.Int64ObservableUpDownCounter("sluice.workqueue.queued", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs in the buffer, waiting for a worker."))
	if err != nil {
		return nil, err
	}
	running, err := m.Int64ObservableUpDownCounter("sluice.workqueue.running", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs a worker holds: handler calls in progress and outcomes being reported."))
	if err != nil {
		return nil, err
	}
	retrying, err := m.Int64ObservableUpDownCounter("sluice.workqueue.retrying", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs waiting out a retry backoff."))
	if err != nil {
		return nil, err
	}
	submitted, err := m.Int64ObservableCounter("sluice.workqueue.submitted", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs accepted by Submit or TrySubmit."))
	if err != nil {
		return nil, err
	}
	retries, err := m.Int64ObservableCounter("sluice.workqueue.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Failed attempts after which the job was scheduled to run again."))
	if err != nil {
		return nil, err
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(cfg.Attributes...))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := q.Stats()
		o.ObserveInt64(queued, s.Queued, attrs)
		o.ObserveInt64(running, s.Running, attrs)
		o.ObserveInt64(retrying, s.Retrying, attrs)
		o.ObserveInt64(submitted, s.Submitted, attrs)
		o.ObserveInt64(retries, s.Retries, attrs)
		return nil
	}, queued, running, retrying, submitted, retries)
}

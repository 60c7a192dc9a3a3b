package sluiceotel

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicego/sluice/fetch"
)

// Attribute keys used beside the OpenTelemetry semantic conventions'
// server.address, http.request.method, http.response.status_code and
// error.type.
const (
	// OutcomeKey is the outcome of a fetch request (fetch.Outcome), a
	// workqueue job (workqueue.Outcome) or a job attempt ("ok", "error").
	OutcomeKey = attribute.Key("sluice.outcome")
	// DirectionKey tells received ("in") from sent ("out") stream messages.
	DirectionKey = attribute.Key("sluice.direction")
	// StateKey is a stream client's connection state (stream.State).
	StateKey = attribute.Key("sluice.state")
	// ReasonKey is why a stream connection ended: "ping_timeout" or
	// "idle_timeout" (a dead peer), "eof", "canceled" or "error".
	ReasonKey = attribute.Key("sluice.reason")
	// AttemptKey is the attempt number of a job attempt span.
	AttemptKey = attribute.Key("sluice.attempt")
)

// durationBuckets are the boundaries, in seconds, of every duration
// histogram: the OpenTelemetry HTTP semantic conventions' advice.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// FetchOutcome returns the sluice.outcome value of a fetch outcome: its
// [fetch.Outcome.String] in snake case ("ok", "status_error",
// "network_error", "timeout", "too_large", "disallowed", "canceled",
// "other", "robots_unavailable", "invalid").
func FetchOutcome(o fetch.Outcome) string {
	switch o {
	case fetch.OutcomeOK:
		return "ok"
	case fetch.OutcomeStatusError:
		return "status_error"
	case fetch.OutcomeNetworkError:
		return "network_error"
	case fetch.OutcomeTimeout:
		return "timeout"
	case fetch.OutcomeTooLarge:
		return "too_large"
	case fetch.OutcomeDisallowed:
		return "disallowed"
	case fetch.OutcomeCanceled:
		return "canceled"
	case fetch.OutcomeRobotsUnavailable:
		return "robots_unavailable"
	case fetch.OutcomeInvalid:
		return "invalid"
	}
	return "other"
}

type fetchInstruments struct {
	cfg      Config
	hosts    *hosts
	duration metric.Float64Histogram
	wait     metric.Float64Histogram
	retries  metric.Int64Counter
	bytes    metric.Int64Counter
}

// InstrumentFetch returns o set up to record metrics, and spans when
// cfg.TracerProvider is set, for the [fetch.Fetcher] made from it:
//
//   - o.OnResult is wrapped: each Result is recorded, then passed to the
//     OnResult already set, if any;
//   - with a TracerProvider, o.Client's Transport is wrapped by
//     [WrapTransport], on a copy of the Client. When o.Client is nil, a
//     Client is made with [fetch.DefaultTransport], the transport fetch.New
//     would build.
//
// Metrics recorded per Result (see the package doc for the list):
// sluice.fetch.request.duration, sluice.fetch.request.wait,
// sluice.fetch.retries, sluice.fetch.bytes. Figures that are gauges or
// counters of the Fetcher as a whole come from [ObserveFetcher].
//
// Use the returned Options for one Fetcher: the server.address bound
// ([Config.MaxHosts]) is kept per call.
func InstrumentFetch(o fetch.Options, cfg Config) fetch.Options {
	m := cfg.meter()
	fi := &fetchInstruments{cfg: cfg, hosts: newHosts(cfg)}
	var err error
	fi.duration, err = m.Float64Histogram("sluice.fetch.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a request's start to its final Result, waits, retries and backoffs included."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	fi.wait, err = m.Float64Histogram("sluice.fetch.request.wait", metric.WithUnit("s"),
		metric.WithDescription("Part of a request's duration before its first attempt was sent: slots, rate limits, robots.txt."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	handle(err)
	fi.retries, err = m.Int64Counter("sluice.fetch.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts that were retries, counted when the request's Result is final."))
	handle(err)
	fi.bytes, err = m.Int64Counter("sluice.fetch.bytes", metric.WithUnit("By"),
		metric.WithDescription("Body bytes returned in successful Results."))
	handle(err)

	user := o.OnResult
	o.OnResult = func(r fetch.Result) {
		fi.record(r)
		if user != nil {
			user(r)
		}
	}
	if tp := cfg.tracer(); tp != nil {
		var client http.Client
		if o.Client != nil {
			client = *o.Client
		} else {
			t, err := fetch.DefaultTransport(o)
			if err != nil {
				return o // fetch.New reports the same error
			}
			client.Transport = t
		}
		base := client.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		client.Transport = WrapTransport(base, cfg)
		o.Client = &client
	}
	return o
}

func (fi *fetchInstruments) record(r fetch.Result) {
	kv := make([]attribute.KeyValue, 0, 3)
	if u, err := url.Parse(r.URL); err == nil {
		if h, ok := fi.hosts.value(u.Hostname()); ok {
			kv = append(kv, attribute.String("server.address", h))
		}
	}
	hostOnly := fi.cfg.with(kv...)
	kv = append(kv, OutcomeKey.String(FetchOutcome(r.Outcome())))
	if r.Status != 0 {
		kv = append(kv, attribute.Int("http.response.status_code", r.Status))
	}
	ctx := context.Background()
	fi.duration.Record(ctx, r.Duration.Seconds(), fi.cfg.with(kv...))
	fi.wait.Record(ctx, r.Wait.Seconds(), hostOnly)
	if r.Attempts > 1 {
		fi.retries.Add(ctx, int64(r.Attempts-1), hostOnly)
	}
	if len(r.Body) > 0 {
		fi.bytes.Add(ctx, int64(len(r.Body)), hostOnly)
	}
}

// ObserveFetcher registers callbacks that report f's [fetch.Stats] at each
// collection: sluice.fetch.requests.in_flight and
// sluice.fetch.requests.backing_off (gauges), sluice.fetch.attempts,
// sluice.fetch.redirects and sluice.fetch.robots.fetches (counters), with
// cfg.Attributes. Unregister the returned Registration when f is no longer
// used, or f stays reachable from the MeterProvider.
func ObserveFetcher(f *fetch.Fetcher, cfg Config) (metric.Registration, error) {
	m := cfg.meter()
	inFlight, err := m.Int64ObservableUpDownCounter("sluice.fetch.requests.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Requests started and not finished, backing-off ones included."))
	if err != nil {
		return nil, err
	}
	backingOff, err := m.Int64ObservableUpDownCounter("sluice.fetch.requests.backing_off", metric.WithUnit("{request}"),
		metric.WithDescription("Requests waiting out a retry backoff."))
	if err != nil {
		return nil, err
	}
	attempts, err := m.Int64ObservableCounter("sluice.fetch.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("HTTP attempts sent, retries included, redirect hops and robots.txt excluded."))
	if err != nil {
		return nil, err
	}
	redirects, err := m.Int64ObservableCounter("sluice.fetch.redirects", metric.WithUnit("{request}"),
		metric.WithDescription("Redirect hops sent."))
	if err != nil {
		return nil, err
	}
	robots, err := m.Int64ObservableCounter("sluice.fetch.robots.fetches", metric.WithUnit("{request}"),
		metric.WithDescription("robots.txt requests sent, redirect hops included."))
	if err != nil {
		return nil, err
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(cfg.Attributes...))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := f.Stats()
		o.ObserveInt64(inFlight, s.InFlight, attrs)
		o.ObserveInt64(backingOff, s.BackingOff, attrs)
		o.ObserveInt64(attempts, s.Attempts, attrs)
		o.ObserveInt64(redirects, s.Redirects, attrs)
		o.ObserveInt64(robots, s.RobotsFetches, attrs)
		return nil
	}, inFlight, backingOff, attempts, redirects, robots)
}

// WrapTransport returns a RoundTripper that makes a client span around each
// round trip of base, when cfg.TracerProvider is set (otherwise it returns
// base). A Fetcher sends one round trip per attempt, per redirect hop and per
// robots.txt request, so a request retried once gives two spans.
//
// The span is named after the method ("GET") and a child of the request's
// context. It carries http.request.method, url.full (without user info and
// query), server.address, server.port, http.response.status_code and, for
// a failure, error.type (the status code for a 4xx or 5xx, "error" for a
// transport error) with the span status set to Error. It ends when the
// response body is read to its end, fails or is closed (a Fetcher always
// closes it), or at once when no response arrived. With cfg.Propagator set,
// the span context is injected into a copy of the request's header.
//
// The wrapper passes CloseIdleConnections on to base.
func WrapTransport(base http.RoundTripper, cfg Config) http.RoundTripper {
	tr := cfg.tracer()
	if tr == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: tr, prop: cfg.Propagator}
}

type transport struct {
	base   http.RoundTripper
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	attrs := []attribute.KeyValue{attribute.String("http.request.method", req.Method)}
	if u := req.URL; u != nil {
		full := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
		attrs = append(attrs, attribute.String("url.full", full.String()),
			attribute.String("server.address", u.Hostname()))
		if p, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		} else if u.Scheme == "https" {
			attrs = append(attrs, attribute.Int("server.port", 443))
		} else if u.Scheme == "http" {
			attrs = append(attrs, attribute.Int("server.port", 80))
		}
	}
	ctx, span := t.tracer.Start(req.Context(), req.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	if t.prop != nil {
		req = req.Clone(ctx)
		t.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))
	} else {
		req = req.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		span.RecordError(err)
		span.SetAttributes(attribute.String("error.type", "error"))
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		span.End()
		return resp, nil
	}
	resp.Body = &spanBody{rc: resp.Body, span: span}
	return resp, nil
}

// spanBody ends its span at EOF, at a read error or at Close, whichever
// comes first.
type spanBody struct {
	rc    io.ReadCloser
	span  trace.Span
	n     atomic.Int64 // bytes read so far
	ended atomic.Bool  // Close may run concurrently with Read
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	if err != nil {
		if err != io.EOF {
			b.span.RecordError(err)
		}
		b.end()
	}
	return n, err
}

func (b *spanBody) Close() error {
	err := b.rc.Close()
	b.end()
	return err
}

func (b *spanBody) end() {
	if !b.ended.CompareAndSwap(false, true) {
		return
	}
	b.span.SetAttributes(attribute.Int64("http.response.body.size", b.n.Load()))
	b.span.End()
}

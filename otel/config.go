package sluiceotel

import (
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every meter and tracer this
// package creates.
const ScopeName = "github.com/sluicego/sluice/otel"

// DefaultMaxHosts is the number of distinct server.address values kept when
// [Config.MaxHosts] is zero.
const DefaultMaxHosts = 100

// OtherHost is the server.address value of the hosts beyond [Config.MaxHosts].
const OtherHost = "_other"

// Config says where the figures go. The zero value records metrics through
// the global MeterProvider (otel.GetMeterProvider) and makes no spans.
type Config struct {
	// MeterProvider gives the meter of every instrument. Nil means
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider, if set, turns on spans: one per HTTP round trip of a
	// Fetcher (see [WrapTransport]) and one per job attempt (see
	// [WrapHandler]). Nil means no spans; the global TracerProvider is not
	// used unless passed here.
	TracerProvider trace.TracerProvider
	// Propagator, if set, injects the attempt span's context into each
	// request a Fetcher sends (for example propagation.TraceContext{}). Nil
	// means no headers are added.
	Propagator propagation.TextMapPropagator

	// Attributes are added to every measurement, for example
	// attribute.String("sluice.name", "crawler") to tell two Fetchers,
	// queues or clients apart on one MeterProvider. Observe* callbacks of
	// two instances with the same Attributes report the same series, and
	// the SDK keeps one of them: give each instance its own Attributes.
	Attributes []attribute.KeyValue

	// Host maps a request's host name to its server.address attribute.
	// The host is an unbounded set in a crawler (every link can name a new
	// one) and each value is a series in the metrics backend: map it to a
	// bounded set here (a registrable domain, "internal"/"external"), or
	// return "" to leave server.address out. Nil keeps the host name as it
	// is, within MaxHosts.
	Host func(host string) string
	// MaxHosts bounds the distinct server.address values one instrumented
	// Fetcher reports (after Host): hosts beyond the first MaxHosts are
	// reported as [OtherHost]. Zero means [DefaultMaxHosts]; a negative value
	// drops server.address altogether.
	MaxHosts int
}

func (c Config) meter() metric.Meter {
	mp := c.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(ScopeName)
}

// tracer returns the tracer, or nil when spans are off.
func (c Config) tracer() trace.Tracer {
	if c.TracerProvider == nil {
		return nil
	}
	return c.TracerProvider.Tracer(ScopeName)
}

// with returns the Config's Attributes followed by kv, as one measurement
// option.
func (c Config) with(kv ...attribute.KeyValue) metric.MeasurementOption {
	if len(c.Attributes) == 0 {
		return metric.WithAttributes(kv...)
	}
	all := make([]attribute.KeyValue, 0, len(c.Attributes)+len(kv))
	all = append(append(all, c.Attributes...), kv...)
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// hosts maps host names to server.address values, keeping at most max
// distinct values.
type hosts struct {
	mapf func(string) string
	max  int // < 0: drop the attribute

	mu   sync.Mutex
	seen map[string]struct{}
}

func newHosts(c Config) *hosts {
	h := &hosts{mapf: c.Host, max: c.MaxHosts}
	if h.max == 0 {
		h.max = DefaultMaxHosts
	}
	return h
}

// value returns host's server.address value and whether to report one.
func (h *hosts) value(host string) (string, bool) {
	if h.max < 0 {
		return "", false
	}
	if h.mapf != nil {
		host = h.mapf(host)
	}
	if host == "" {
		return "", false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.seen[host]; ok {
		return host, true
	}
	if len(h.seen) >= h.max {
		return OtherHost, true
	}
	if h.seen == nil {
		h.seen = make(map[string]struct{})
	}
	h.seen[host] = struct{}{}
	return host, true
}

// handle reports an instrument creation error the OpenTelemetry way: such
// errors come only from invalid names or options, and the SDK still returns
// a usable (or no-op) instrument.
func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

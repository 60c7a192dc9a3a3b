package sluiceotel_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sluicego/sluice/fetch"
	sluiceotel "github.com/sluicego/sluice/otel"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
	"github.com/sluicego/sluice/workqueue"
)

// exampleServer serves /ok ("hello"), /flaky (503 once, then "back") and
// anything else as 404, on loopback.
func exampleServer() *httptest.Server {
	var flaky atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/ok":
			_, _ = io.WriteString(w, "hello")
		case r.URL.Path == "/flaky" && flaky.Add(1) > 1:
			_, _ = io.WriteString(w, "back")
		case r.URL.Path == "/flaky":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
}

// A Fetcher's figures, read back through a ManualReader after a real batch:
// one URL succeeds, one succeeds on its retry, one is a 404.
func ExampleInstrumentFetch() {
	srv := exampleServer()
	defer srv.Close()

	reader := sdkmetric.NewManualReader() // in production: a PeriodicReader with an OTLP exporter
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	cfg := sluiceotel.Config{MeterProvider: mp}

	f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{
		Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3},
	}, cfg))
	if err != nil {
		panic(err)
	}
	defer f.CloseIdleConnections()
	reg, err := sluiceotel.ObserveFetcher(f, cfg)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	f.All(context.Background(), []string{srv.URL + "/ok", srv.URL + "/flaky", srv.URL + "/missing"})

	printMetrics(reader)
	// Output:
	// sluice.fetch.attempts 4
	// sluice.fetch.bytes{server.address=127.0.0.1} 9
	// sluice.fetch.redirects 0
	// sluice.fetch.request.duration{http.response.status_code=200,server.address=127.0.0.1,sluice.outcome=ok} count=2
	// sluice.fetch.request.duration{http.response.status_code=404,server.address=127.0.0.1,sluice.outcome=status_error} count=1
	// sluice.fetch.request.wait{server.address=127.0.0.1} count=3
	// sluice.fetch.requests.backing_off 0
	// sluice.fetch.requests.in_flight 0
	// sluice.fetch.retries{server.address=127.0.0.1} 1
	// sluice.fetch.robots.fetches 0
}

// A queue's figures after a real run: three jobs, one retried once, one
// failing for good.
func ExampleInstrumentWorkqueue() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	cfg := sluiceotel.Config{MeterProvider: mp}

	var tries atomic.Int32
	handler := func(ctx context.Context, job string) error {
		switch {
		case job == "flaky" && tries.Add(1) == 1:
			return fmt.Errorf("try again")
		case job == "poison":
			return retry.Permanent(fmt.Errorf("cannot do %q", job))
		}
		return nil
	}
	q, err := workqueue.New(sluiceotel.WrapHandler(handler, cfg), sluiceotel.InstrumentWorkqueue(workqueue.Options[string]{
		Workers: 2,
		Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}},
	}, cfg))
	if err != nil {
		panic(err)
	}
	reg, err := sluiceotel.ObserveQueue(q, cfg)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()
	for _, job := range []string{"ok", "flaky", "poison"} {
		if err := q.Submit(context.Background(), job); err != nil {
			panic(err)
		}
	}
	if err := q.Shutdown(context.Background()); err != nil {
		panic(err)
	}

	printMetrics(reader)
	// Output:
	// sluice.workqueue.attempt.duration{sluice.outcome=error} count=2
	// sluice.workqueue.attempt.duration{sluice.outcome=ok} count=2
	// sluice.workqueue.job.attempts{sluice.outcome=failed} count=1
	// sluice.workqueue.job.attempts{sluice.outcome=succeeded} count=2
	// sluice.workqueue.jobs{sluice.outcome=failed} 1
	// sluice.workqueue.jobs{sluice.outcome=succeeded} 2
	// sluice.workqueue.queued 0
	// sluice.workqueue.retries 1
	// sluice.workqueue.retrying 0
	// sluice.workqueue.running 0
	// sluice.workqueue.submitted 3
}

// A stream client's figures after a real server-sent events session: the
// server drops the first connection after two events (the client
// reconnects), keeps the second open, and the client stops after the
// fourth event.
func ExampleInstrumentStream() {
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: %d.1\n\ndata: %d.2\n\n", n, n)
		w.(http.Flusher).Flush()
		if n > 1 {
			<-r.Context().Done()
		}
	}))
	defer srv.Close()

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	cfg := sluiceotel.Config{MeterProvider: mp}

	c, err := stream.New[sse.Event](&sse.Dialer{URL: srv.URL}, sluiceotel.InstrumentStream(stream.Options[sse.Event]{
		Backoff: retry.Schedule{Initial: time.Millisecond},
	}, cfg))
	if err != nil {
		panic(err)
	}
	reg, err := sluiceotel.ObserveStream(c, cfg)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_ = c.Run(ctx, func(ctx context.Context, e sse.Event) error {
		if e.Data == "2.2" {
			cancel()
		}
		return nil
	})

	printMetrics(reader)
	// Output:
	// sluice.stream.connection.duration{sluice.reason=canceled} count=1
	// sluice.stream.connection.duration{sluice.reason=eof} count=1
	// sluice.stream.connects 2
	// sluice.stream.dials 2
	// sluice.stream.disconnects{sluice.reason=canceled} 1
	// sluice.stream.disconnects{sluice.reason=eof} 1
	// sluice.stream.messages.dropped 0
	// sluice.stream.messages{sluice.direction=in} 4
	// sluice.stream.messages{sluice.direction=out} 0
	// sluice.stream.reconnects 1
	// sluice.stream.send_buffer 0
	// sluice.stream.state{sluice.state=closed} 1
	// sluice.stream.state{sluice.state=connected} 0
	// sluice.stream.state{sluice.state=connecting} 0
	// sluice.stream.state{sluice.state=disconnected} 0
	// sluice.stream.state{sluice.state=idle} 0
}

// The Prometheus path: OpenTelemetry's Prometheus exporter is the reader,
// and its registry is scraped like any Prometheus target (here through
// httptest). Only lines with known values are printed; the histograms'
// buckets and sums, which hold measured times, are left out.
func Example_prometheus() {
	srv := exampleServer()
	defer srv.Close()

	registry := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(registry), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	cfg := sluiceotel.Config{MeterProvider: mp}

	f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{
		Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3},
	}, cfg))
	if err != nil {
		panic(err)
	}
	defer f.CloseIdleConnections()
	reg, err := sluiceotel.ObserveFetcher(f, cfg)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()
	f.All(context.Background(), []string{srv.URL + "/ok", srv.URL + "/flaky", srv.URL + "/missing"})

	metrics := httptest.NewServer(promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	defer metrics.Close()
	resp, err := http.Get(metrics.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "sluice_fetch_attempts_total") || strings.HasPrefix(line, "sluice_fetch_bytes_total") ||
			strings.HasPrefix(line, "sluice_fetch_retries_total") || strings.HasPrefix(line, "sluice_fetch_request_duration_seconds_count") {
			fmt.Println(line)
		}
	}
	// Output:
	// sluice_fetch_attempts_total 4
	// sluice_fetch_bytes_total{server_address="127.0.0.1"} 9
	// sluice_fetch_request_duration_seconds_count{http_response_status_code="200",server_address="127.0.0.1",sluice_outcome="ok"} 2
	// sluice_fetch_request_duration_seconds_count{http_response_status_code="404",server_address="127.0.0.1",sluice_outcome="status_error"} 1
	// sluice_fetch_retries_total{server_address="127.0.0.1"} 1
}

// printMetrics prints each point of reader's metrics on one line, sorted:
// the value of a counter or gauge, the count of a histogram (its sum is a
// measured time, different on every run). Attributes are shown in braces;
// the scope's own attributes (none here) are not.
func printMetrics(reader *sdkmetric.ManualReader) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s %d", series(m.Name, p.Attributes.ToSlice()), p.Value))
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s %d", series(m.Name, p.Attributes.ToSlice()), p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s count=%d", series(m.Name, p.Attributes.ToSlice()), p.Count))
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s count=%d", series(m.Name, p.Attributes.ToSlice()), p.Count))
				}
			}
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
}

func series(name string, attrs []attribute.KeyValue) string {
	if len(attrs) == 0 {
		return name
	}
	kv := make([]string, len(attrs))
	for i, a := range attrs {
		kv[i] = string(a.Key) + "=" + a.Value.String()
	}
	return name + "{" + strings.Join(kv, ",") + "}"
}

package sluiceotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sluicego/sluice/fetch"
	sluiceotel "github.com/sluicego/sluice/otel"
	"github.com/sluicego/sluice/retry"
)

// fastRetry retries at once, in effect: 3 attempts, 1-2ms apart.
func fastRetry() *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, Max: 2 * time.Millisecond}, MaxAttempts: 3}
}

// newServer serves /ok (200, "hello"), /flaky (503 the first time, then
// 200 "back") and /missing (404). It records each request's traceparent.
func newServer(t *testing.T) (*httptest.Server, *sync.Map) {
	t.Helper()
	var flaky atomic.Int32
	var parents sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tp := r.Header.Get("traceparent"); tp != "" {
			parents.Store(tp, r.URL.Path)
		}
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("hello"))
		case "/flaky":
			if flaky.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("back"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &parents
}

func TestFetchMetricsFromARealBatch(t *testing.T) {
	cfg, reader, _ := setup(t, false)
	srv, _ := newServer(t)
	var userResults atomic.Int32
	opts := sluiceotel.InstrumentFetch(fetch.Options{
		Retry:    fastRetry(),
		OnResult: func(fetch.Result) { userResults.Add(1) },
	}, cfg)
	f, err := fetch.New(opts)
	require.NoError(t, err)
	defer f.CloseIdleConnections()
	reg, err := sluiceotel.ObserveFetcher(f, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	results := f.All(context.Background(), []string{srv.URL + "/ok", srv.URL + "/flaky", srv.URL + "/missing"})
	require.Len(t, results, 3)
	assert.EqualValues(t, 3, userResults.Load(), "the user's OnResult still runs")

	p := points(t, reader)
	host := "server.address=127.0.0.1"
	assert.Equal(t, map[string]float64{
		"sluice.fetch.request.duration{http.response.status_code=200," + host + ",sluice.outcome=ok}":           2,
		"sluice.fetch.request.duration{http.response.status_code=404," + host + ",sluice.outcome=status_error}": 1,
	}, counts(named(p, "sluice.fetch.request.duration")))
	assert.Equal(t, 3.0, p["sluice.fetch.request.wait{"+host+"}"])
	assert.Equal(t, 1.0, p["sluice.fetch.retries{"+host+"}"], "the flaky URL was retried once")
	assert.Equal(t, float64(len("hello")+len("back")), p["sluice.fetch.bytes{"+host+"}"])
	assert.Equal(t, 4.0, p["sluice.fetch.attempts{}"])
	assert.Equal(t, 0.0, p["sluice.fetch.requests.in_flight{}"])
	assert.Equal(t, 0.0, p["sluice.fetch.requests.backing_off{}"])
	assert.Equal(t, 0.0, p["sluice.fetch.redirects{}"])
	assert.Equal(t, 0.0, p["sluice.fetch.robots.fetches{}"])
	assert.Greater(t, p["sluice.fetch.request.duration{http.response.status_code=200,"+host+",sluice.outcome=ok}.sum"], 0.0)
}

// counts drops the ".sum" entries of a histogram's points.
func counts(p map[string]float64) map[string]float64 {
	for k := range p {
		if strings.HasSuffix(k, ".sum") {
			delete(p, k)
		}
	}
	return p
}

func TestFetchInFlightWhileARequestRuns(t *testing.T) {
	cfg, reader, _ := setup(t, false)
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	defer srv.Close()
	f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{}, cfg))
	require.NoError(t, err)
	defer f.CloseIdleConnections()
	reg, err := sluiceotel.ObserveFetcher(f, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	done := make(chan fetch.Result)
	go func() { done <- f.Get(context.Background(), srv.URL) }()
	<-entered
	assert.Equal(t, 1.0, points(t, reader)["sluice.fetch.requests.in_flight{}"])
	close(release)
	require.NoError(t, (<-done).Err)
	assert.Equal(t, 0.0, points(t, reader)["sluice.fetch.requests.in_flight{}"])
}

func TestFetchHostAttributeIsBounded(t *testing.T) {
	srv, _ := newServer(t)
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	urls := []string{srv.URL + "/ok", localhost + "/ok"}

	t.Run("MaxHosts", func(t *testing.T) {
		cfg, reader, _ := setup(t, false)
		cfg.MaxHosts = 1
		f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{Concurrency: 1}, cfg))
		require.NoError(t, err)
		defer f.CloseIdleConnections()
		for _, u := range urls { // in order: the first host is kept
			require.NoError(t, f.Get(context.Background(), u).Err)
		}
		p := points(t, reader)
		assert.Equal(t, 5.0, p["sluice.fetch.bytes{server.address=127.0.0.1}"])
		assert.Equal(t, 5.0, p["sluice.fetch.bytes{server.address="+sluiceotel.OtherHost+"}"])
	})
	t.Run("Host maps and drops", func(t *testing.T) {
		cfg, reader, _ := setup(t, false)
		cfg.Host = func(h string) string {
			if h == "localhost" {
				return "" // dropped
			}
			return "loopback"
		}
		cfg.Attributes = []attribute.KeyValue{attribute.String("sluice.name", "crawler")}
		f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{}, cfg))
		require.NoError(t, err)
		defer f.CloseIdleConnections()
		f.All(context.Background(), urls)
		p := named(points(t, reader), "sluice.fetch.bytes")
		assert.Equal(t, map[string]float64{
			"sluice.fetch.bytes{server.address=loopback,sluice.name=crawler}": 5,
			"sluice.fetch.bytes{sluice.name=crawler}":                         5,
		}, p)
	})
	t.Run("negative MaxHosts drops the attribute", func(t *testing.T) {
		cfg, reader, _ := setup(t, false)
		cfg.MaxHosts = -1
		f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{}, cfg))
		require.NoError(t, err)
		defer f.CloseIdleConnections()
		f.All(context.Background(), urls)
		assert.Equal(t, map[string]float64{"sluice.fetch.bytes{}": 10}, named(points(t, reader), "sluice.fetch.bytes"))
	})
}

func TestFetchSpanPerAttempt(t *testing.T) {
	for _, ownClient := range []bool{false, true} {
		name := "default transport"
		if ownClient {
			name = "caller's Client"
		}
		t.Run(name, func(t *testing.T) {
			cfg, _, rec := setup(t, true)
			cfg.Propagator = propagation.TraceContext{}
			srv, parents := newServer(t)
			o := fetch.Options{Retry: fastRetry()}
			if ownClient {
				o.Client = &http.Client{Transport: &http.Transport{}}
			}
			f, err := fetch.New(sluiceotel.InstrumentFetch(o, cfg))
			require.NoError(t, err)
			defer f.CloseIdleConnections() // passed through the wrapper: goleak checks the connections closed

			ctx, parent := cfg.TracerProvider.Tracer("test").Start(context.Background(), "batch")
			r := f.Get(ctx, srv.URL+"/flaky")
			parent.End()
			require.NoError(t, r.Err)
			require.Equal(t, 2, r.Attempts)

			var attempts []sdktrace.ReadOnlySpan
			for _, s := range rec.Ended() {
				if s.Name() != "batch" {
					attempts = append(attempts, s)
				}
			}
			require.Len(t, attempts, 2, "one span per attempt")
			for i, s := range attempts {
				assert.Equal(t, "GET", s.Name())
				assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID(), "attempt %d is a child of the caller's span", i+1)
				attrs := attrMap(s.Attributes())
				assert.Equal(t, "GET", attrs["http.request.method"])
				assert.Equal(t, "127.0.0.1", attrs["server.address"])
				assert.Equal(t, srv.URL+"/flaky", attrs["url.full"])
			}
			first, second := attempts[0], attempts[1]
			assert.Equal(t, codes.Error, first.Status().Code)
			assert.Equal(t, "503", attrMap(first.Attributes())["http.response.status_code"])
			assert.Equal(t, "503", attrMap(first.Attributes())["error.type"])
			assert.Equal(t, codes.Unset, second.Status().Code)
			assert.Equal(t, "200", attrMap(second.Attributes())["http.response.status_code"])
			assert.Equal(t, "4", attrMap(second.Attributes())["http.response.body.size"])
			assert.True(t, first.EndTime().Before(second.StartTime()) || first.EndTime().Equal(second.StartTime()))

			n := 0
			parents.Range(func(_, _ any) bool { n++; return true })
			assert.Equal(t, 2, n, "each attempt carried its own traceparent")
		})
	}
}

func TestFetchSpanOfANetworkError(t *testing.T) {
	cfg, _, rec := setup(t, true)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{Retry: retry.NoRetry()}, cfg))
	require.NoError(t, err)
	defer f.CloseIdleConnections()
	r := f.Get(context.Background(), url)
	require.Error(t, r.Err)
	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, codes.Error, spans[0].Status().Code)
	assert.Equal(t, "error", attrMap(spans[0].Attributes())["error.type"])
	require.Len(t, spans[0].Events(), 1, "the error is recorded")
}

func TestWrapTransportWithoutTracerIsBase(t *testing.T) {
	base := &http.Transport{}
	assert.Same(t, http.RoundTripper(base), sluiceotel.WrapTransport(base, sluiceotel.Config{}))
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

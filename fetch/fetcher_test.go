package fetch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"Concurrency":     {Concurrency: -1},
		"PerHost":         {PerHost: -1},
		"AttemptTimeout":  {AttemptTimeout: -time.Second},
		"MaxBodyBytes":    {MaxBodyBytes: -1},
		"MinDelay":        {MinDelay: -1},
		"rate and delay":  {MinDelay: time.Second, PerHostRate: 1},
		"PerHostRate":     {PerHostRate: -1},
		"RobotsTTL":       {RobotsTTL: 25 * time.Hour},
		"RobotsErrorTTL":  {RobotsTTL: time.Minute, RobotsErrorTTL: time.Hour},
		"RobotsMaxHosts":  {RobotsMaxHosts: -1},
		"Adaptive bounds": {Adaptive: &limit.AIMDOptions{Min: 5, Max: 2}},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := New(o)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Nil(t, f)
		})
	}
	f := newFetcher(t, Options{})
	assert.Equal(t, DefaultConcurrency, f.cfg.Concurrency)
	assert.Equal(t, DefaultPerHost, f.cfg.PerHost)
	assert.Equal(t, int64(DefaultMaxBodyBytes), f.cfg.MaxBodyBytes)
	assert.Equal(t, 3, f.cfg.policy.MaxAttempts)
	assert.GreaterOrEqual(t, f.transport.MaxIdleConnsPerHost, DefaultPerHost)
	assert.Positive(t, f.transport.ResponseHeaderTimeout)
	assert.Positive(t, f.transport.TLSHandshakeTimeout)
	assert.Zero(t, f.client.Timeout, "AttemptTimeout replaces a client-wide Timeout")
}

func TestGetReturnsBodyHeaderAndUserAgent(t *testing.T) {
	var ua atomic.Value
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ua.Store(r.UserAgent())
		w.Header().Set("X-Test", "yes")
		_, _ = io.WriteString(w, "hello")
	})
	f := newFetcher(t, Options{UserAgent: "tester/1"})
	res := f.Get(context.Background(), srv.URL+"/x")
	require.NoError(t, res.Err)
	assert.Equal(t, "hello", string(res.Body))
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Equal(t, "yes", res.Header.Get("X-Test"))
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, srv.URL+"/x", res.URL)
	assert.Equal(t, "tester/1", ua.Load())
	st := f.Stats()
	assert.Equal(t, Stats{Requests: 1, Attempts: 1, OK: 1, Bytes: 5}, st)
}

func TestInvalidURLIsAnErrorWithoutAttempt(t *testing.T) {
	f := newFetcher(t, Options{})
	for _, u := range []string{"://bad", "ftp://example.com/x", "/relative", ""} {
		res := f.Get(context.Background(), u)
		require.Error(t, res.Err, u)
		assert.Zero(t, res.Attempts)
	}
	res := f.Do(context.Background(), nil)
	require.ErrorIs(t, res.Err, ErrInvalidRequest)
	assert.Equal(t, int64(5), f.Stats().Invalid)
}

// A non-2xx status is an error, never silently nil, and the status
// survives giving up (heimdall; retryablehttp returns err=nil).
func TestAll5xxIsStatusErrorNotNil_heimdall_retryablehttp(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "down for maintenance")
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	res := f.Get(context.Background(), srv.URL)
	var se *StatusError
	require.ErrorAs(t, res.Err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.Status)
	assert.Equal(t, "down for maintenance", string(se.Body))
	assert.Equal(t, srv.URL, se.URL)
	assert.ErrorIs(t, res.Err, retry.ErrExhausted)
	assert.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, 3, res.Attempts)
	assert.Nil(t, res.Body)
	assert.Equal(t, int64(3), srv.requests.Load())

	// 404 and 501 are final at once.
	for _, code := range []int{http.StatusNotFound, http.StatusNotImplemented} {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
		res := f.Get(context.Background(), srv.URL)
		require.ErrorAs(t, res.Err, &se)
		assert.Equal(t, code, se.Status)
		assert.Equal(t, 1, res.Attempts)
		assert.Equal(t, int64(1), srv.requests.Load())
	}
	assert.Equal(t, int64(3), f.Stats().StatusErrors)
}

func TestTransientStatusesAreRetried(t *testing.T) {
	for _, code := range []int{408, 425, 429, 500, 502, 503, 504} {
		var n atomic.Int64
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.WriteHeader(code)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		f := newFetcher(t, Options{Retry: fastRetry(3)})
		res := f.Get(context.Background(), srv.URL)
		require.NoError(t, res.Err, "status %d", code)
		assert.Equal(t, 2, res.Attempts, "status %d", code)
		assert.Equal(t, int64(1), f.Stats().Retries)
	}
}

// POST is not retried by default, and a body is never buffered to be
// replayed (retryablehttp #145): only GetBody recreates it.
func TestPOSTNotRetriedAndBodyNeverBuffered_retryablehttp145(t *testing.T) {
	var bodies []string
	var mu = make(chan struct{}, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu <- struct{}{}
		bodies = append(bodies, string(b))
		<-mu
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	ctx := context.Background()
	reset := func() { mu <- struct{}{}; bodies = nil; <-mu }

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("payload"))
	res := f.Do(ctx, req)
	var se *StatusError
	require.ErrorAs(t, res.Err, &se)
	assert.Equal(t, 1, res.Attempts, "POST without Idempotency-Key is not retried")
	assert.Equal(t, []string{"payload"}, bodies)

	reset()
	req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("payload"))
	req.Header.Set("Idempotency-Key", "k1")
	res = f.Do(ctx, req)
	require.ErrorIs(t, res.Err, retry.ErrExhausted)
	assert.Equal(t, 3, res.Attempts, "POST with Idempotency-Key and GetBody is retried")
	assert.Equal(t, []string{"payload", "payload", "payload"}, bodies, "GetBody recreates the body for each attempt")

	reset()
	var readers atomic.Int64
	req, _ = http.NewRequest(http.MethodPost, srv.URL, &countingReader{r: strings.NewReader("stream"), reads: &readers})
	req.Header.Set("Idempotency-Key", "k2")
	require.Nil(t, req.GetBody, "a plain io.Reader cannot be rewound")
	res = f.Do(ctx, req)
	assert.Equal(t, 1, res.Attempts, "a body that cannot be rewound is not replayed")
	assert.Equal(t, []string{"stream"}, bodies)

	reset()
	req, _ = http.NewRequest(http.MethodPut, srv.URL, bytes.NewReader([]byte("put")))
	res = f.Do(ctx, req)
	assert.Equal(t, 3, res.Attempts, "PUT is idempotent")
}

type countingReader struct {
	r     io.Reader
	reads *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) { c.reads.Add(1); return c.r.Read(p) }

// Every body is drained and closed before a retry (heimdall #45,
// retryablehttp #190), so one connection serves all attempts.
func TestBodyDrainedAndClosedBeforeRetry_heimdall45(t *testing.T) {
	var n atomic.Int64
	big := strings.Repeat("e", 16<<10)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 3 {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	var closes, opens atomic.Int64
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err == nil {
			opens.Add(1)
			resp.Body = &closeCounter{ReadCloser: resp.Body, closes: &closes}
		}
		return resp, err
	})}
	f := newFetcher(t, Options{Client: client, Retry: fastRetry(5), Concurrency: 1})
	res := f.Get(context.Background(), srv.URL)
	require.NoError(t, res.Err)
	assert.Equal(t, 4, res.Attempts)
	assert.Equal(t, opens.Load(), closes.Load(), "every response body is closed")
	assert.Equal(t, int64(1), srv.accepts.Load(), "drained bodies let the connection be reused")
}

type closeCounter struct {
	io.ReadCloser
	closes *atomic.Int64
}

func (c *closeCounter) Close() error { c.closes.Add(1); return c.ReadCloser.Close() }

// Final failures never close idle connections (retryablehttp #85, #237):
// many failing requests in a row reuse one connection.
func TestNeverCloseIdleConnectionsOnFailure_retryablehttp85(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	f := newFetcher(t, Options{Retry: fastRetry(2), Concurrency: 1})
	for range 50 {
		res := f.Get(context.Background(), srv.URL)
		require.Error(t, res.Err)
	}
	assert.Equal(t, int64(100), srv.requests.Load())
	assert.Equal(t, int64(1), srv.accepts.Load(), "no CloseIdleConnections on the failure path")
}

// Retry-After is capped (retryablehttp #247: "retrying in 484289h") and
// honoured in every date form, RFC 850 included, with jitter and within ctx.
func TestRetryAfterCappedAndAllDateForms_retryablehttp247(t *testing.T) {
	cases := []struct {
		name   string
		header func(now time.Time) string
		maxHnt time.Duration
		min    time.Duration
		max    time.Duration
	}{
		{"seconds", func(time.Time) string { return "3" }, time.Hour, 3 * time.Second, 3300 * time.Millisecond},
		{"IMF-fixdate", func(n time.Time) string { return n.Add(4 * time.Second).UTC().Format(http.TimeFormat) }, time.Hour, 4 * time.Second, 4400 * time.Millisecond},
		{"RFC 850", func(n time.Time) string { return n.Add(5 * time.Second).UTC().Format(time.RFC850) }, time.Hour, 5 * time.Second, 5500 * time.Millisecond},
		{"asctime", func(n time.Time) string { return n.Add(6 * time.Second).UTC().Format(time.ANSIC) }, time.Hour, 6 * time.Second, 6600 * time.Millisecond},
		{"huge seconds capped", func(time.Time) string { return "3600000" }, 2 * time.Second, 2 * time.Second, 2200 * time.Millisecond},
		{"huge date capped", func(n time.Time) string { return n.Add(10000 * time.Hour).UTC().Format(time.RFC850) }, 2 * time.Second, 2 * time.Second, 2200 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls int
				var second time.Time
				client := fakeClient(func(r *http.Request) (*http.Response, error) {
					calls++
					if calls == 1 {
						return fakeResponse(r, http.StatusTooManyRequests, "", "Retry-After", tc.header(time.Now())), nil
					}
					second = time.Now()
					return fakeResponse(r, http.StatusOK, "ok"), nil
				})
				p := &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, MaxHint: tc.maxHnt}, MaxAttempts: 2}
				f := newFetcher(t, Options{Client: client, Retry: p})
				start := time.Now()
				res := f.Get(context.Background(), "http://example.com/")
				require.NoError(t, res.Err)
				waited := second.Sub(start)
				assert.GreaterOrEqual(t, waited, tc.min)
				assert.LessOrEqual(t, waited, tc.max)
			})
		})
	}
}

// The backoff wait ends when ctx does (heimdall v7.0.3, req), and the last
// status is still reported.
func TestBackoffWaitRespectsContext_heimdall703(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "3600"), nil
		})
		f := newFetcher(t, Options{Client: client, Retry: &retry.Policy{Schedule: retry.Schedule{MaxHint: 2 * time.Hour}}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		res := f.Get(ctx, "http://example.com/")
		assert.Equal(t, time.Second, time.Since(start), "returns when ctx ends, not after the hour")
		require.ErrorIs(t, res.Err, context.DeadlineExceeded)
		var se *StatusError
		require.ErrorAs(t, res.Err, &se, "the last attempt's status survives")
		assert.Equal(t, http.StatusServiceUnavailable, se.Status)
		assert.Equal(t, http.StatusServiceUnavailable, res.Status)
		assert.Equal(t, int64(1), f.Stats().Canceled)
	})
}

// A retry releases its slots while it waits: another request to the same
// host, with PerHost 1, is served during the backoff.
func TestRetryReleasesSlotsDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log []string
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			log = append(log, r.URL.Path)
			if r.URL.Path == "/a" && len(log) == 1 {
				return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "10"), nil
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, PerHost: 1, Concurrency: 1, Retry: &retry.Policy{MaxAttempts: 2}})
		done := make(chan Result)
		go func() { done <- f.Get(context.Background(), "http://h/a") }()
		synctest.Wait() // /a failed and waits its backoff
		res := f.Get(context.Background(), "http://h/b")
		require.NoError(t, res.Err)
		require.NoError(t, (<-done).Err)
		assert.Equal(t, []string{"/a", "/b", "/a"}, log)
	})
}

// The attempt timeout starts when the request is sent, not while it
// waits for a slot (aiohttp #2648).
func TestTimeoutExcludesSlotWait_aiohttp2648(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			select {
			case <-time.After(30 * time.Millisecond):
				return fakeResponse(r, http.StatusOK, "ok"), nil
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		})
		f := newFetcher(t, Options{Client: client, PerHost: 1, AttemptTimeout: 50 * time.Millisecond, Retry: retry.NoRetry()})
		urls := []string{"http://h/1", "http://h/2", "http://h/3", "http://h/4"}
		start := time.Now()
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		assert.Equal(t, 120*time.Millisecond, time.Since(start), "served one at a time, none timed out in the queue")

		slow := newFetcher(t, Options{Client: client, AttemptTimeout: 20 * time.Millisecond, Retry: retry.NoRetry()})
		res := slow.Get(context.Background(), "http://h/slow")
		require.ErrorIs(t, res.Err, ErrAttemptTimeout)
		assert.Equal(t, int64(1), slow.Stats().Timeouts)
	})
}

func TestMinDelaySpacesAttemptsPerHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Duration
		origin := time.Now()
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == "a" {
				starts = append(starts, time.Since(origin))
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, MinDelay: time.Second, Concurrency: 4})
		res := f.All(context.Background(), []string{"http://a/1", "http://b/1", "http://a/2", "http://a/3", "http://b/2"})
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second}, starts)
	})
}

func TestContextCanceledBeforeStart(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	f := newFetcher(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := f.Get(ctx, srv.URL)
	require.ErrorIs(t, res.Err, context.Canceled)
	assert.Zero(t, res.Attempts)
	assert.Zero(t, srv.requests.Load())
	assert.Equal(t, int64(1), f.Stats().Canceled)
}

func TestOnResultSeesEveryResult(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	var seen atomic.Int64
	f := newFetcher(t, Options{OnResult: func(r Result) {
		if r.Err == nil {
			seen.Add(1)
		}
	}})
	urls := []string{srv.URL + "/1", srv.URL + "/2", srv.URL + "/3"}
	f.All(context.Background(), urls)
	f.Get(context.Background(), srv.URL)
	assert.Equal(t, int64(4), seen.Load())
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.COM/x":     "example.com:80",
		"https://example.com/":     "example.com:443",
		"http://example.com:8080/": "example.com:8080",
		"http://127.0.0.1:1234/":   "127.0.0.1:1234",
		"http://[::1]/":            "[::1]:80",
		"http://example.com:080/":  "example.com:80", // same port, same host: one cap
		"http://EXAMPLE.com:0443/": "example.com:443",
	} {
		req, err := http.NewRequest(http.MethodGet, in, nil)
		require.NoError(t, err)
		assert.Equal(t, want, hostKey(req.URL), in)
	}
}

func TestErrorsMatch(t *testing.T) {
	err := error(&StatusError{Method: "GET", URL: "http://x", Status: 503})
	assert.Equal(t, "fetch: GET http://x: 503 Service Unavailable", err.Error())
	assert.False(t, errors.Is(err, ErrAttemptTimeout))
}

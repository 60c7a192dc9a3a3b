package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/retry"
)

// retryOnce is an in-memory transport for synctest bubbles. Every request
// takes delay; a path starting with /retry is answered 503 with a
// Retry-After of retryAfter the first time it is asked, then 200, and any
// other path 200. It records the requests in flight, their peak, and when
// each path was asked.
type retryOnce struct {
	delay      time.Duration
	retryAfter string

	mu     sync.Mutex
	now    int
	peak   int
	asked  map[string][]time.Time
	onSend func(now int) // called under the lock at each arrival, if set
}

func newRetryOnce(delay time.Duration, retryAfter string) *retryOnce {
	return &retryOnce{delay: delay, retryAfter: retryAfter, asked: map[string][]time.Time{}}
}

func (t *retryOnce) client() *http.Client { return fakeClient(t.roundTrip) }

func (t *retryOnce) roundTrip(r *http.Request) (*http.Response, error) {
	key := r.URL.Host + r.URL.Path
	t.mu.Lock()
	t.now++
	t.peak = max(t.peak, t.now)
	t.asked[key] = append(t.asked[key], time.Now())
	first := len(t.asked[key]) == 1
	if t.onSend != nil {
		t.onSend(t.now)
	}
	t.mu.Unlock()
	defer func() { t.mu.Lock(); t.now--; t.mu.Unlock() }()
	if t.delay > 0 {
		select {
		case <-time.After(t.delay):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	if first && strings.HasPrefix(r.URL.Path, "/retry") {
		return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", t.retryAfter), nil
	}
	return fakeResponse(r, http.StatusOK, "ok"), nil
}

func (t *retryOnce) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now
}

// hintRetry follows Retry-After exactly (no jitter), for two attempts.
func hintRetry() *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, MaxHint: time.Minute, Jitter: retry.JitterNone}, MaxAttempts: 2}
}

// The scenario: with Concurrency 64, 64 URLs of host A answered
// 503 + Retry-After: 2, then 200 URLs of host B. A's URLs wait out their
// backoff holding no share of the batch's concurrency, so every URL of B is
// done before A's first retry is due (before, B waited the whole 2 s).
func TestBatchRetryBackoffDoesNotStallOtherHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newRetryOnce(10*time.Millisecond, "2")
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 64, PerHost: 64, Retry: hintRetry()})
		var urls []string
		for i := range 64 {
			urls = append(urls, fmt.Sprintf("http://a.test/retry/%d", i))
		}
		for i := range 200 {
			urls = append(urls, fmt.Sprintf("http://b.test/%d", i))
		}
		start := time.Now()
		var lastB time.Time
		for r := range f.Stream(context.Background(), slices.Values(urls)) {
			require.NoError(t, r.Err, r.URL)
			if strings.HasPrefix(r.URL, "http://b.test/") {
				lastB = time.Now()
			}
		}
		total := time.Since(start)
		firstRetry := tr.asked["a.test/retry/0"][1]
		t.Logf("B done after %v, A's first retry sent after %v, batch %v (fake clock)",
			lastB.Sub(start), firstRetry.Sub(start), total)
		assert.True(t, lastB.Before(firstRetry), "all of B is done before A's first retry")
		assert.Equal(t, 2*time.Second+10*time.Millisecond, firstRetry.Sub(start), "A's retries are due 2s after their 503")
		assert.Equal(t, 2*time.Second+20*time.Millisecond, total, "the batch takes its slowest URL's time")
		assert.Equal(t, 64, tr.peak)
		assert.Zero(t, f.Stats().BackingOff)
	})
}

// While URLs wait out a backoff, the batch keeps Concurrency requests in
// flight as long as it has runnable URLs, and never more; the URLs parked
// in a backoff stay within the documented bound (5 × Concurrency, with the
// ones waiting for a busy host and those in progress).
func TestBatchKeepsConcurrencyInFlightWhileURLsBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conc = 16
		tr := newRetryOnce(100*time.Millisecond, "1")
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: conc, PerHost: conc, Retry: hintRetry()})
		var urls []string
		for i := range 1000 { // one in five of the first 500 retried after 1s
			path := fmt.Sprintf("/%d", i)
			if i%5 == 0 && i < 500 {
				path = "/retry" + path
			}
			urls = append(urls, "http://a.test"+path)
		}
		// The requests start at multiples of 100ms; halfway between two,
		// the batch is quiet. 1100 requests at 16 at a time take 6.9s,
		// the last 100ms with 12 in flight; the retries are due by about
		// 4.3s, long before the input runs out.
		ctx, cancel := context.WithCancel(context.Background())
		var sampler sync.WaitGroup
		maxParked, samples := int64(0), 0
		sampler.Go(func() {
			time.Sleep(50 * time.Millisecond)
			for ; ctx.Err() == nil && samples < 68; samples++ {
				assert.Equal(t, conc, tr.inFlight(), "in flight at %v", time.Duration(samples)*100*time.Millisecond+50*time.Millisecond)
				maxParked = max(maxParked, f.Stats().BackingOff)
				time.Sleep(100 * time.Millisecond)
			}
		})
		tr.onSend = func(now int) {
			assert.LessOrEqual(t, now, conc, "never more than Concurrency in flight")
			assert.LessOrEqual(t, f.Stats().BackingOff, int64((lookaheadFactor+1)*conc))
		}
		start := time.Now()
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		elapsed := time.Since(start)
		cancel()
		sampler.Wait()
		t.Logf("batch took %v (fake clock), at most %d URLs parked at once, %d samples", elapsed, maxParked, samples)
		assert.Equal(t, 68, samples)
		assert.Equal(t, conc, tr.peak)
		assert.Positive(t, maxParked)
		assert.Equal(t, 6900*time.Millisecond, elapsed, "1100 requests of 100ms, 16 at a time, never idle")
	})
}

// When every URL is retried after a long backoff, the parked URLs fill the
// lookahead and the batch stops pulling input: the number parked stays
// within the bound, Stream's pulled-ahead count too, and every URL still
// ends in a Result.
func TestBatchParkedURLsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conc = 4
		tr := newRetryOnce(time.Millisecond, "10")
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: conc, Retry: hintRetry()})
		var maxParked int64
		tr.onSend = func(int) { maxParked = max(maxParked, f.Stats().BackingOff) }
		produced, consumed, maxAhead := 0, 0, 0
		urls := func(yield func(string) bool) {
			for i := range 200 {
				produced++
				if !yield(fmt.Sprintf("http://h%d.test/retry/%d", i%7, i)) {
					return
				}
			}
		}
		start := time.Now()
		for r := range f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			assert.Equal(t, 2, r.Attempts)
			consumed++
			maxAhead = max(maxAhead, produced-consumed)
		}
		t.Logf("took %v (fake clock); at most %d parked, %d pulled ahead", time.Since(start), maxParked, maxAhead)
		assert.Equal(t, 200, consumed)
		assert.LessOrEqual(t, maxParked, int64((lookaheadFactor+1)*conc))
		assert.GreaterOrEqual(t, maxParked, int64(lookaheadFactor*conc), "the lookahead filled with parked URLs")
		assert.LessOrEqual(t, maxAhead, (lookaheadFactor+1)*conc)
		assert.Zero(t, f.Stats().BackingOff)
	})
}

// A retry that becomes due goes ahead of its host's URLs not yet started,
// and still respects the host's cap.
func TestBatchDueRetryGoesFirstWithinHostCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newRetryOnce(time.Second, "1")
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 4, PerHost: 1, Retry: hintRetry()})
		urls := []string{"http://a.test/retry/0", "http://a.test/1", "http://a.test/2", "http://a.test/3"}
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		// /retry/0 answers 503 at 1s, is due at 2s while /1 runs (1s..2s),
		// and goes before /2.
		assert.Equal(t, []time.Time{tr.asked["a.test/retry/0"][0].Add(2 * time.Second)}, tr.asked["a.test/retry/0"][1:])
		assert.True(t, tr.asked["a.test/retry/0"][1].Before(tr.asked["a.test/2"][0]))
		assert.Equal(t, 1, tr.peak)
	})
}

// Cancelling ctx while URLs are parked gives each of them its Result at
// once: a *retry.Error with the context's error that still wraps the last
// response's *StatusError, as Get reports it.
func TestBatchCancelWithParkedURLsGivesEachAResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newRetryOnce(time.Millisecond, "10")
		var mu sync.Mutex
		seen := map[int]int{}
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 4, Retry: hintRetry(),
			OnResult: func(r Result) { mu.Lock(); seen[r.Index]++; mu.Unlock() }})
		var urls []string
		for i := range 10 {
			urls = append(urls, fmt.Sprintf("http://a.test/retry/%d", i))
		}
		urls = append(urls, "http://b.test/ok")
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		res := f.All(ctx, urls)
		assert.Equal(t, time.Second, time.Since(start), "All returns when ctx ends, not when the retries are due")
		for _, r := range res[:10] {
			var re *retry.Error
			require.ErrorAs(t, r.Err, &re, r.URL)
			assert.ErrorIs(t, re.Reason, context.DeadlineExceeded)
			var se *StatusError
			require.ErrorAs(t, r.Err, &se)
			assert.Equal(t, http.StatusServiceUnavailable, se.Status)
			assert.Equal(t, http.StatusServiceUnavailable, r.Status)
			assert.Equal(t, 1, r.Attempts)
			assert.Equal(t, OutcomeCanceled, r.Outcome())
			assert.LessOrEqual(t, r.Duration, time.Second, "from when the batch took it to ctx's end")
			assert.Greater(t, r.Duration, 990*time.Millisecond)
		}
		require.NoError(t, res[10].Err)
		assert.Len(t, seen, 11)
		for i, n := range seen {
			assert.Equal(t, 1, n, "OnResult once for index %d", i)
		}
		st := f.Stats()
		assert.Equal(t, int64(11), st.Requests)
		assert.Equal(t, int64(10), st.Canceled)
		assert.Zero(t, st.InFlight)
		assert.Zero(t, st.BackingOff)
	})
}

// On real loopback servers: breaking out of Stream while URLs are parked
// drops them (not yielded; counted as canceled in Stats and OnResult),
// stops the batch's timer and leaves no goroutine behind.
func TestStreamBreakWithParkedURLsLeavesNoGoroutine(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	func() {
		busy := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		defer busy.Close()
		g := newGate(t)
		fine := newServer(t, g.handler)
		defer fine.Close()
		f, err := New(Options{Concurrency: 8, PerHost: 8, Retry: hintRetry()})
		require.NoError(t, err)
		defer f.CloseIdleConnections()
		urls := func(yield func(string) bool) {
			for i := 0; ; i++ {
				u := fmt.Sprintf("%s/%d", fine.URL, i)
				if i < 6 {
					u = fmt.Sprintf("%s/%d", busy.URL, i)
				}
				if !yield(u) {
					return
				}
			}
		}
		var opener sync.WaitGroup
		defer opener.Wait()
		opener.Go(func() {
			// Hold the fine host until the busy host's URLs are parked
			// (or give up after 5s).
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
				if f.Stats().BackingOff == 6 {
					break
				}
			}
			g.release()
		})
		got := 0
		var parkedAtBreak int64
		for r := range f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			require.True(t, strings.HasPrefix(r.URL, fine.URL), r.URL)
			if got++; got == 10 {
				parkedAtBreak = f.Stats().BackingOff
				break
			}
		}
		assert.Equal(t, int64(6), parkedAtBreak)
		assert.Equal(t, int64(6), busy.requests.Load(), "one attempt each, the retries never sent")
		st := f.Stats()
		assert.Zero(t, st.InFlight)
		assert.Zero(t, st.BackingOff)
		assert.GreaterOrEqual(t, st.Canceled, int64(6), "the parked URLs, and those in progress")
		assert.Equal(t, st.Requests, st.OK+st.Canceled)
	}()
	goleak.VerifyNone(t, baseline)
}

// Get waits out its backoff itself; meanwhile Stats counts it in
// BackingOff, and a ctx ending during the wait ends it with a *retry.Error.
func TestGetBackoffCountedInStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newRetryOnce(0, "5")
		f := newFetcher(t, Options{Client: tr.client(), Retry: hintRetry()})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done := make(chan Result)
		go func() { done <- f.Get(ctx, "http://a.test/retry/0") }()
		time.Sleep(time.Second)
		assert.Equal(t, int64(1), f.Stats().BackingOff)
		r := <-done
		require.True(t, errors.Is(r.Err, context.DeadlineExceeded), "%v", r.Err)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status)
		assert.Zero(t, f.Stats().BackingOff)
	})
}

// Breaking out of Stream while a retry that is due waits for its host's
// slot still ends that URL with a Result (counted in Stats, passed to
// OnResult), so Stats.InFlight goes back to 0.
func TestStreamBreakWithDueRetryQueuedForItsHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			d := map[string]time.Duration{"/retry/0": time.Millisecond, "/1": 10 * time.Second}[r.URL.Path]
			if r.URL.Host == "b.test" {
				d = 2 * time.Second
			}
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
			if r.URL.Path == "/retry/0" {
				return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "1"), nil
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		var mu sync.Mutex
		ended := map[string]error{}
		f := newFetcher(t, Options{Client: client, Concurrency: 4, HostLimits: map[string]int{"a.test": 1},
			Retry: hintRetry(), OnResult: func(r Result) { mu.Lock(); ended[r.URL] = r.Err; mu.Unlock() }})
		urls := []string{"http://a.test/retry/0", "http://a.test/1", "http://b.test/2"}
		start := time.Now()
		for r := range f.Stream(context.Background(), slices.Values(urls)) {
			require.NoError(t, r.Err)
			assert.Equal(t, "http://b.test/2", r.URL)
			assert.Equal(t, 2*time.Second, time.Since(start), "a.test/retry/0 is due and queued behind /1")
			break
		}
		st := f.Stats()
		assert.Zero(t, st.InFlight)
		assert.Equal(t, int64(3), st.Requests)
		assert.Equal(t, int64(1), st.OK)
		assert.Equal(t, int64(2), st.Canceled)
		var re *retry.Error
		require.ErrorAs(t, ended["http://a.test/retry/0"], &re)
		assert.ErrorIs(t, re.Reason, context.Canceled)
	})
}

// When ctx ends while a retry waits for its slot or rate token (not during
// the backoff itself), the last attempt's status and error are not lost.
func TestContextEndingWhileRetryWaitsForRateKeepsLastStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "busy"), nil
		})
		// The backoff is 1ms, but the next token of the host comes in an hour.
		f := newFetcher(t, Options{Client: client, MinDelay: time.Hour,
			Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, Jitter: retry.JitterNone}, MaxAttempts: 3}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() { done <- f.Get(ctx, "http://h/") }()
		time.Sleep(time.Minute) // past the 1ms backoff: the retry waits for the rate token
		cancel()
		res := <-done
		require.ErrorIs(t, res.Err, context.Canceled)
		var se *StatusError
		require.ErrorAs(t, res.Err, &se, "the last attempt's error survives")
		assert.Equal(t, http.StatusServiceUnavailable, se.Status)
		assert.Equal(t, http.StatusServiceUnavailable, res.Status, "Status is the last response's")
		assert.Equal(t, 1, res.Attempts)
		assert.Equal(t, int64(1), f.Stats().Canceled)
	})
}

// Stats.Retries counts retries that were sent, so that Attempts ==
// Requests-with-an-attempt + Retries; a retry cancelled during its backoff
// is not one.
func TestStatsRetriesCountsOnlyRetriesSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "60"), nil
		})
		f := newFetcher(t, Options{Client: client, Retry: &retry.Policy{Schedule: retry.Schedule{MaxHint: time.Hour}, MaxAttempts: 3}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res := f.Get(ctx, "http://h/")
		require.ErrorIs(t, res.Err, context.DeadlineExceeded)
		st := f.Stats()
		assert.Equal(t, int64(1), st.Attempts)
		assert.Zero(t, st.Retries, "the retry was never sent")
	})
}

// A 429 asking for an hour is capped by MaxHint against a real server, and
// a Retry-After date in the past means "retry now".
func TestHugeRetryAfterCappedOnRealServer(t *testing.T) {
	for _, header := range []string{"3600", time.Now().Add(time.Hour).UTC().Format(time.RFC850), "Sun, 06 Nov 1994 08:49:37 GMT"} {
		var n atomic.Int64
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", header)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		f := newFetcher(t, Options{Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, MaxHint: 20 * time.Millisecond}, MaxAttempts: 2}})
		start := time.Now()
		res := f.Get(context.Background(), srv.URL)
		require.NoError(t, res.Err, header)
		assert.Equal(t, 2, res.Attempts)
		assert.Less(t, time.Since(start), time.Second, header)
	}
}

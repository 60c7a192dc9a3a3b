package fetch

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// hostDelays is an in-memory transport for synctest bubbles: a request to
// a host answers 200 after that host's delay. It records, per host, the
// requests in flight, their peak, and the paths in the order they arrived.
type hostDelays struct {
	delay map[string]time.Duration
	// observe, if set, sees the requests in flight per host after each
	// arrival, under the lock.
	observe func(now map[string]int)

	mu    sync.Mutex
	now   map[string]int
	peak  map[string]int
	order map[string][]string
}

func newHostDelays(delay map[string]time.Duration) *hostDelays {
	return &hostDelays{delay: delay, now: map[string]int{}, peak: map[string]int{}, order: map[string][]string{}}
}

func (h *hostDelays) client() *http.Client { return fakeClient(h.roundTrip) }

func (h *hostDelays) roundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Host
	h.mu.Lock()
	h.now[host]++
	h.peak[host] = max(h.peak[host], h.now[host])
	h.order[host] = append(h.order[host], r.URL.Path)
	if h.observe != nil {
		h.observe(h.now)
	}
	h.mu.Unlock()
	defer func() { h.mu.Lock(); h.now[host]--; h.mu.Unlock() }()
	select {
	case <-time.After(h.delay[host]):
		return fakeResponse(r, http.StatusOK, "ok"), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// slowFast is a batch over two hosts: slow.test, cap 2, 1s per request,
// and fast.test, cap 8, 100ms per request, with Concurrency 10 = 2 + 8.
// Its 10 slow URLs take 5s at their cap and its 400 fast ones 5s at theirs:
// the serial sum is 10s; a batch that keeps both hosts at their caps takes
// 5s. The slow URLs come one in twenty in the first half of the input.
type slowFast struct {
	tr        *hostDelays
	f         *Fetcher
	urls      []string
	bothAtCap bool // both hosts were at their caps at once
}

const slowFastConcurrency = 10

func newSlowFast(t *testing.T) *slowFast {
	s := &slowFast{tr: newHostDelays(map[string]time.Duration{
		"slow.test": time.Second, "fast.test": 100 * time.Millisecond})}
	s.tr.observe = func(now map[string]int) {
		if now["slow.test"] == 2 && now["fast.test"] == 8 {
			s.bothAtCap = true
		}
	}
	s.f = newFetcher(t, Options{Client: s.tr.client(), Concurrency: slowFastConcurrency, Retry: retry.NoRetry(),
		HostLimits: map[string]int{"slow.test": 2, "fast.test": 8}})
	for i := range 410 {
		host := "fast.test"
		if i < 200 && i%20 == 0 {
			host = "slow.test"
		}
		s.urls = append(s.urls, fmt.Sprintf("http://%s/%d", host, i))
	}
	return s
}

func (s *slowFast) check(t *testing.T, elapsed time.Duration) {
	t.Logf("batch took %v (virtual); peaks %v", elapsed, s.tr.peak)
	assert.Equal(t, 2, s.tr.peak["slow.test"])
	assert.Equal(t, 8, s.tr.peak["fast.test"])
	assert.True(t, s.bothAtCap, "the fast host reached its cap while the slow one was at its own")
	assert.GreaterOrEqual(t, elapsed, 5*time.Second)
	assert.LessOrEqual(t, elapsed, 5*time.Second+200*time.Millisecond,
		"about max(slow, fast) = 5s, not their sum (10s)")
	assert.Zero(t, s.f.hosts.Len(), "idle host entries are evicted")
}

// One All over a slow host with a small cap and a fast host: the batch's
// goroutines do not pile up waiting for the slow host's slots (colly: one
// slow domain starves the others), so the fast host stays at its cap and
// the batch takes about as long as its slowest host, not the sum.
func TestSlowHostDoesNotStarveOthersInOneBatch_colly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSlowFast(t)
		start := time.Now()
		res := s.f.All(context.Background(), s.urls)
		elapsed := time.Since(start)
		require.Len(t, res, len(s.urls))
		for i, r := range res {
			require.NoError(t, r.Err)
			require.Equal(t, i, r.Index)
			require.Equal(t, s.urls[i], r.URL)
		}
		s.check(t, elapsed)
	})
}

// The same with Stream, which also keeps its documented lookahead bound:
// at most 5 × Concurrency URLs pulled and not yet yielded.
func TestStreamSlowHostDoesNotStarveOthers_colly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSlowFast(t)
		produced, consumed, maxAhead := 0, 0, 0
		urls := func(yield func(string) bool) {
			for _, u := range s.urls {
				produced++
				if !yield(u) {
					return
				}
			}
		}
		seen := make(map[int]bool)
		start := time.Now()
		for r := range s.f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			require.False(t, seen[r.Index], "index %d yielded twice", r.Index)
			seen[r.Index] = true
			consumed++
			maxAhead = max(maxAhead, produced-consumed)
		}
		elapsed := time.Since(start)
		assert.Len(t, seen, len(s.urls))
		t.Logf("at most %d URLs pulled ahead", maxAhead)
		assert.LessOrEqual(t, maxAhead, 5*slowFastConcurrency)
		s.check(t, elapsed)
	})
}

// When the URLs read ahead are all for a host at its cap, Stream stops
// pulling: the lookahead bound holds even with a long run of them, and the
// URLs after it are still fetched, each host's in input order.
func TestStreamLookaheadBoundedByBusyHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const conc = 4
		tr := newHostDelays(map[string]time.Duration{"one.test": 10 * time.Millisecond, "other.test": time.Millisecond})
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: conc, Retry: retry.NoRetry(),
			HostLimits: map[string]int{"one.test": 1}})
		var want []string // one.test's paths in input order
		produced, consumed, maxAhead := 0, 0, 0
		urls := func(yield func(string) bool) {
			for i := range 300 {
				host := "one.test"
				if i >= 200 || i%7 == 3 { // a long run of one.test, then others
					host = "other.test"
				}
				if host == "one.test" {
					want = append(want, fmt.Sprintf("/%d", i))
				}
				produced++
				if !yield(fmt.Sprintf("http://%s/%d", host, i)) {
					return
				}
			}
		}
		for r := range f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			consumed++
			maxAhead = max(maxAhead, produced-consumed)
		}
		assert.Equal(t, 300, consumed)
		t.Logf("at most %d URLs pulled ahead", maxAhead)
		assert.LessOrEqual(t, maxAhead, 5*conc, "Concurrency in progress + 4 × Concurrency waiting")
		assert.Greater(t, maxAhead, conc, "URLs for the busy host waited while others went")
		assert.Equal(t, 1, tr.peak["one.test"])
		assert.Equal(t, want, tr.order["one.test"], "a host's URLs start in input order")
	})
}

// With an adaptive cap, a batch follows the host's current cap: as it grows
// from 1 to 4, so do the batch's requests in flight to the host.
func TestBatchFollowsAdaptiveCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newHostDelays(map[string]time.Duration{"a.test": 10 * time.Millisecond})
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 8, Retry: retry.NoRetry(),
			Adaptive: &limit.AIMDOptions{Min: 1, Initial: 1, Max: 4, Window: 1}})
		urls := make([]string, 40)
		for i := range urls {
			urls[i] = fmt.Sprintf("http://a.test/%d", i)
		}
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err)
		}
		assert.Equal(t, int64(4), f.hosts.Limit("a.test:80"))
		assert.Equal(t, 4, tr.peak["a.test"], "the batch used the grown cap")
	})
}

// On real loopback servers: in one All, a host whose requests hang at its
// cap of 2 leaves the other host its full cap of 8 at the same time.
func TestAllSlowHostLeavesOthersTheirCap_colly(t *testing.T) {
	slowGate, fastGate := newGate(t), newGate(t)
	slow, fast := newServer(t, slowGate.handler), newServer(t, fastGate.handler)
	f := newFetcher(t, Options{Concurrency: 10, PerHost: 8, Retry: retry.NoRetry(),
		HostLimits: map[string]int{addrOf(slow): 2}})
	var urls []string
	for i := range 60 {
		srv := fast
		if i%2 == 0 {
			srv = slow
		}
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	done := make(chan []Result)
	go func() { done <- f.All(context.Background(), urls) }()
	require.Eventually(t, func() bool { return slow.inFlight.Load() == 2 && fast.inFlight.Load() == 8 },
		5*time.Second, time.Millisecond, "both hosts at their caps at once")
	fastGate.release()
	require.Eventually(t, func() bool { return fast.requests.Load() == 30 }, 5*time.Second, time.Millisecond,
		"every fast URL is fetched while the slow host is still stuck")
	assert.Equal(t, int64(2), slow.requests.Load())
	slowGate.release()
	for _, r := range <-done {
		require.NoError(t, r.Err)
	}
	assert.Equal(t, int64(2), slow.maxIn.Load())
	assert.Equal(t, int64(8), fast.maxIn.Load())
}

// On real loopback servers, with an endless input: a host that never
// answers does not keep Stream from the other host, and breaking out of
// the loop cancels its requests and leaves no goroutine behind.
func TestStreamSlowHostEarlyBreakLeavesNoGoroutine(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	func() {
		stuck := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		defer stuck.Close()
		g := newGate(t)
		fast := newServer(t, g.handler)
		defer fast.Close()
		const conc = 9
		f, err := New(Options{Concurrency: conc, PerHost: 8, Retry: retry.NoRetry(),
			HostLimits: map[string]int{addrOf(stuck): 1}})
		require.NoError(t, err)
		defer f.CloseIdleConnections()

		var mu sync.Mutex // produced is read by the test goroutine below
		produced := 0
		urls := func(yield func(string) bool) {
			for i := 0; ; i++ {
				u := fmt.Sprintf("%s/%d", fast.URL, i)
				if i%2 == 0 {
					u = fmt.Sprintf("%s/%d", stuck.URL, i)
				}
				mu.Lock()
				produced++
				mu.Unlock()
				if !yield(u) {
					return
				}
			}
		}
		var opener sync.WaitGroup
		defer opener.Wait()
		opener.Go(func() {
			// Hold the fast host's requests until it is at its cap, next
			// to the stuck host's one request (or give up after 5s).
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
				if fast.inFlight.Load() == 8 && stuck.inFlight.Load() == 1 {
					break
				}
			}
			g.release()
		})
		got, maxAhead := 0, 0
		for r := range f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			require.True(t, strings.HasPrefix(r.URL, fast.URL), r.URL)
			got++
			mu.Lock()
			maxAhead = max(maxAhead, produced-got)
			mu.Unlock()
			if got == 16 {
				break
			}
		}
		assert.Equal(t, 16, got)
		assert.Equal(t, int64(8), fast.maxIn.Load(), "the fast host reached its cap")
		assert.Equal(t, int64(1), stuck.requests.Load(), "the stuck host got one request, its cap")
		assert.LessOrEqual(t, maxAhead, 5*conc)
		st := f.Stats()
		assert.Zero(t, st.InFlight, "every started request has finished when the loop returns")
		assert.GreaterOrEqual(t, st.OK, int64(16))
		assert.Positive(t, st.Canceled, "the stuck request was canceled")
		assert.Equal(t, st.Requests, st.OK+st.Canceled, "every other started URL was canceled")
	}()
	goleak.VerifyNone(t, baseline)
}

// Cancelling ctx while URLs wait for a busy host still gives every URL a
// Result, promptly, and OnResult sees each once.
func TestAllCancelWithURLsWaitingForBusyHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newHostDelays(map[string]time.Duration{"slow.test": time.Hour, "fast.test": time.Millisecond})
		var mu sync.Mutex
		seen := map[int]int{}
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 4, Retry: retry.NoRetry(),
			HostLimits: map[string]int{"slow.test": 1},
			OnResult:   func(r Result) { mu.Lock(); seen[r.Index]++; mu.Unlock() }})
		var urls []string
		for i := range 100 {
			host := "fast.test"
			if i%10 == 0 { // 10 URLs: fewer than the lookahead of 4 × 4
				host = "slow.test"
			}
			urls = append(urls, fmt.Sprintf("http://%s/%d", host, i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		res := f.All(ctx, urls)
		assert.Equal(t, time.Second, time.Since(start), "All returns when ctx ends")
		require.Len(t, res, 100)
		canceled := 0
		for i, r := range res {
			assert.Equal(t, i, r.Index)
			if r.Err != nil {
				require.ErrorIs(t, r.Err, context.DeadlineExceeded)
				canceled++
			}
		}
		assert.Equal(t, 1, tr.peak["slow.test"])
		assert.Equal(t, 10, canceled, "the slow host's URLs: one in progress, the rest waiting")
		assert.Len(t, seen, 100)
		for i, n := range seen {
			assert.Equal(t, 1, n, "OnResult called once for index %d", i)
		}
		st := f.Stats()
		assert.Equal(t, int64(100), st.Requests)
		assert.Equal(t, int64(90), st.OK)
		assert.Equal(t, int64(10), st.Canceled)
		assert.Zero(t, st.InFlight)
	})
}

// A URL without a valid host is not held back by the dispatcher: it fails
// at once with its own error, in its place.
func TestBatchInvalidURLsFailInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newHostDelays(map[string]time.Duration{"a.test": time.Millisecond})
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 2, Retry: retry.NoRetry()})
		urls := []string{"http://a.test/0", "::bad", "ftp://a.test/2", "http:///3", "http://a.test/4"}
		res := f.All(context.Background(), urls)
		require.Len(t, res, 5)
		assert.NoError(t, res[0].Err)
		for _, i := range []int{1, 2, 3} {
			assert.Error(t, res[i].Err, urls[i])
			assert.Equal(t, OutcomeInvalid, res[i].Outcome(), urls[i])
		}
		assert.NoError(t, res[4].Err)
		assert.Equal(t, []string{"/0", "/4"}, slices.Sorted(slices.Values(tr.order["a.test"])))
	})
}

// A URL waiting out a retry's backoff holds no slot of its host, so the
// batch starts the host's next URL meanwhile.
func TestBatchUsesSlotFreedByRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var order []string
		inFlight, peak := 0, 0
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			order = append(order, r.URL.Path)
			first := slices.Index(order, r.URL.Path) == len(order)-1
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
			if r.URL.Path == "/0" && first {
				return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "10"), nil
			}
			time.Sleep(time.Second)
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Concurrency: 4, PerHost: 1,
			Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, MaxHint: time.Minute, Jitter: retry.JitterNone}, MaxAttempts: 2}})
		urls := []string{"http://a.test/0", "http://a.test/1", "http://a.test/2", "http://a.test/3"}
		start := time.Now()
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		assert.Equal(t, []string{"/0", "/1", "/2", "/3", "/0"}, order, "/1 to /3 went during /0's backoff")
		assert.Equal(t, 11*time.Second, time.Since(start), "the retry at 10s, then 1s")
		assert.Equal(t, 1, peak)
	})
}

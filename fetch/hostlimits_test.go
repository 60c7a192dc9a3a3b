package fetch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// concurrency counts the requests in flight across several servers.
type concurrency struct{ now, peak atomic.Int64 }

func (c *concurrency) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := c.now.Add(1)
		defer c.now.Add(-1)
		for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
		}
		h(w, r)
	}
}

func addrOf(s *server) string { return strings.TrimPrefix(s.URL, "http://") }

// Two hosts with caps 2 and 5 (and a third on PerHost) in one Fetcher: each
// host fills exactly its own cap at once, and the default transport opens
// the 5 connections the largest cap needs although PerHost is 3.
func TestHostLimitsEachHostHoldsItsOwnCap(t *testing.T) {
	g := newGate(t)
	var all concurrency
	a, b, c := newServer(t, all.wrap(g.handler)), newServer(t, all.wrap(g.handler)), newServer(t, all.wrap(g.handler))
	f := newFetcher(t, Options{Concurrency: 16, PerHost: 3, Retry: retry.NoRetry(),
		HostLimits: map[string]int{addrOf(a): 2, addrOf(b): 5}})

	var urls []string
	for i := range 30 {
		urls = append(urls, fmt.Sprintf("%s/%d", []*server{a, b, c}[i%3].URL, i))
	}
	done := make(chan []Result)
	go func() { done <- f.All(context.Background(), urls) }()

	// 2 + 5 + 3 = 10 < Concurrency: every host fills its cap and no more.
	require.Eventually(t, func() bool { return all.now.Load() == 10 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, int64(2), a.inFlight.Load())
	assert.Equal(t, int64(5), b.inFlight.Load())
	assert.Equal(t, int64(3), c.inFlight.Load(), "a host not in HostLimits gets PerHost")
	g.release()
	for _, r := range <-done {
		require.NoError(t, r.Err, r.URL)
	}
	assert.Equal(t, int64(2), a.maxIn.Load())
	assert.Equal(t, int64(5), b.maxIn.Load())
	assert.Equal(t, int64(3), c.maxIn.Load())
	assert.LessOrEqual(t, b.accepts.Load(), int64(5), "connections reused, at most the cap")
	assert.Zero(t, f.hosts.Len(), "idle host entries are evicted")
}

// With caps 2 and 5 but Concurrency 6 the global cap binds too: 6 requests
// in flight over both hosts, neither above its own cap.
func TestHostLimitsAndGlobalCapHoldTogether(t *testing.T) {
	g := newGate(t)
	var all concurrency
	a, b := newServer(t, all.wrap(g.handler)), newServer(t, all.wrap(g.handler))
	f := newFetcher(t, Options{Concurrency: 6, Retry: retry.NoRetry(),
		HostLimits: map[string]int{addrOf(a): 2, addrOf(b): 5}})

	// Separate callers, not one All: the Fetcher's own caps are under test.
	var wg sync.WaitGroup
	for i := range 40 {
		u := fmt.Sprintf("%s/%d", []*server{a, b}[i%2].URL, i)
		wg.Go(func() { assert.NoError(t, f.Get(context.Background(), u).Err, u) })
	}
	require.Eventually(t, func() bool { return all.now.Load() == 6 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, a.inFlight.Load(), int64(2))
	assert.LessOrEqual(t, b.inFlight.Load(), int64(5))
	assert.Equal(t, int64(6), f.global.Stats().InUse)
	g.release()
	wg.Wait()
	assert.LessOrEqual(t, a.maxIn.Load(), int64(2))
	assert.LessOrEqual(t, b.maxIn.Load(), int64(5))
	assert.Equal(t, int64(6), all.peak.Load(), "the global cap held over both hosts")
	assert.Equal(t, int64(40), a.requests.Load()+b.requests.Load())
	assert.Zero(t, f.hosts.Len())
}

// A key without a port covers the host on every port; a key with a port
// covers only that port (a URL without one has its scheme's default) and
// wins over the key without. Host names match case-insensitively.
func TestHostLimitsMatchingRule(t *testing.T) {
	f := newFetcher(t, Options{PerHost: 8, HostLimits: map[string]int{
		"Example.COM":        3,
		"example.com:8443":   7,
		"api.example.com":    2,
		"api.example.com:80": 9,
		"[::1]:8080":         4,
		"127.0.0.1":          5,
	}})
	for rawURL, want := range map[string]int64{
		"http://example.com/":        3,
		"https://EXAMPLE.com/x":      3,
		"http://example.com:9000/":   3,
		"http://example.com:8443/":   7,
		"https://Example.com:8443/":  7,
		"http://www.example.com/":    8, // another host
		"http://api.example.com/":    9, // port 80 by default: the host:port key wins
		"http://api.example.com:80/": 9,
		"https://api.example.com/":   2, // port 443: the host key
		"http://[::1]:8080/":         4,
		"http://[::1]:8081/":         8,
		"http://[::1]/":              8,
		"http://127.0.0.1:1234/":     5,
		"https://127.0.0.1/":         5,
		"http://127.0.0.2:1234/":     8,
	} {
		u, err := url.Parse(rawURL)
		require.NoError(t, err)
		assert.Equal(t, want, f.hosts.Limit(hostKey(u)), rawURL)
	}
}

func TestHostLimitsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"zero cap":        {HostLimits: map[string]int{"a.example": 0}},
		"negative cap":    {HostLimits: map[string]int{"a.example": -1}},
		"empty key":       {HostLimits: map[string]int{"": 1}},
		"path":            {HostLimits: map[string]int{"a.example/x": 1}},
		"scheme":          {HostLimits: map[string]int{"http://a.example": 1}},
		"user info":       {HostLimits: map[string]int{"u@a.example": 1}},
		"empty port":      {HostLimits: map[string]int{"a.example:": 1}},
		"port 0":          {HostLimits: map[string]int{"a.example:0": 1}},
		"port too big":    {HostLimits: map[string]int{"a.example:65536": 1}},
		"leading zero":    {HostLimits: map[string]int{"a.example:080": 1}},
		"no host":         {HostLimits: map[string]int{":80": 1}},
		"bare IPv6":       {HostLimits: map[string]int{"::1": 1}},
		"case duplicates": {HostLimits: map[string]int{"A.example": 1, "a.example": 2}},
		"with Adaptive":   {HostLimits: map[string]int{"a.example": 1}, Adaptive: &limit.AIMDOptions{}},
	} {
		_, err := New(o)
		require.ErrorIs(t, err, ErrInvalidOptions, name)
		t.Logf("%s: %v", name, err)
	}
	for _, o := range []Options{
		{HostLimits: map[string]int{}},
		{HostLimits: map[string]int{}, Adaptive: &limit.AIMDOptions{}}, // empty map: nothing to combine
		{HostLimits: map[string]int{"a.example": 100, "a.example:443": 1, "[::1]": 2}},
	} {
		f, err := New(o)
		require.NoError(t, err)
		f.CloseIdleConnections()
	}
}

// HostLimits is copied: changing the caller's map after New changes nothing.
func TestHostLimitsMapIsCopied(t *testing.T) {
	m := map[string]int{"a.example": 2}
	f := newFetcher(t, Options{PerHost: 8, HostLimits: m})
	m["a.example"] = 6
	m["b.example"] = 1
	assert.Equal(t, int64(2), f.hosts.Limit("a.example:80"))
	assert.Equal(t, int64(8), f.hosts.Limit("b.example:80"))
}

// The default transport allows as many connections per host as the largest
// cap needs, never more than Concurrency.
func TestHostLimitsSizeTheDefaultTransport(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want int
	}{
		{Options{PerHost: 2, HostLimits: map[string]int{"a.example": 10}}, 10},
		{Options{PerHost: 2, Concurrency: 6, HostLimits: map[string]int{"a.example": 10}}, 6},
		{Options{PerHost: 4, HostLimits: map[string]int{"a.example": 1}}, 4},
		{Options{PerHost: 4}, 4},
	} {
		f := newFetcher(t, tc.o)
		assert.Equal(t, tc.want, f.transport.MaxConnsPerHost, "%+v", tc.o)
		assert.Equal(t, tc.want, f.transport.MaxIdleConnsPerHost, "%+v", tc.o)
	}
}

package fetch

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

// gate holds every request until it is opened, so that the number of
// requests in flight at once can be observed.
type gate struct {
	open chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }
func (g *gate) handler(w http.ResponseWriter, r *http.Request) {
	select {
	case <-g.open:
	case <-r.Context().Done():
	}
	_, _ = w.Write([]byte("ok"))
}

// Each host gets its own cap (colly LimitRule shares one cap between all
// hosts a rule matches), and the global cap holds across hosts.
func TestPerHostCapIsPerHostAndGlobalCapHolds_collyLimitRule(t *testing.T) {
	g := newGate(t)
	hosts := []*server{newServer(t, g.handler), newServer(t, g.handler), newServer(t, g.handler)}
	f := newFetcher(t, Options{Concurrency: 5, PerHost: 2, Retry: retry.NoRetry()})

	var urls []string
	for i := range 30 {
		urls = append(urls, fmt.Sprintf("%s/%d", hosts[i%3].URL, i))
	}
	done := make(chan []Result)
	go func() { done <- f.All(context.Background(), urls) }()

	total := func() (n int64) {
		for _, h := range hosts {
			n += h.inFlight.Load()
		}
		return n
	}
	require.Eventually(t, func() bool { return total() == 5 }, 5*time.Second, time.Millisecond)
	atCap := 0
	for _, h := range hosts {
		assert.LessOrEqual(t, h.inFlight.Load(), int64(2))
		if h.inFlight.Load() == 2 {
			atCap++
		}
	}
	assert.Equal(t, 2, atCap, "5 in flight over 3 hosts capped at 2 each: two hosts hold their own full cap at once")
	assert.Equal(t, int64(5), f.global.Stats().InUse)
	g.release()
	for _, r := range <-done {
		require.NoError(t, r.Err)
	}
	for i, h := range hosts {
		assert.LessOrEqual(t, h.maxIn.Load(), int64(2), "host %d never exceeded its cap", i)
		assert.Equal(t, int64(10), h.requests.Load())
	}
	assert.Equal(t, 0, f.hosts.Len(), "idle host entries are evicted")
}

// The global cap is shared by concurrent callers.
func TestGlobalCapAcrossCallers(t *testing.T) {
	g := newGate(t)
	a, b := newServer(t, g.handler), newServer(t, g.handler)
	f := newFetcher(t, Options{Concurrency: 3, PerHost: 3, Retry: retry.NoRetry()})
	var wg sync.WaitGroup
	for i := range 12 {
		u := a.URL
		if i%2 == 1 {
			u = b.URL
		}
		wg.Go(func() { assert.NoError(t, f.Get(context.Background(), u).Err) })
	}
	// Decide by state: wait until all 12 callers are inside Get (the
	// goroutines may start in any order), then look at the servers.
	require.Eventually(t, func() bool {
		return f.Stats().InFlight == 12 && a.inFlight.Load()+b.inFlight.Load() == 3
	}, 5*time.Second, time.Millisecond, "the others wait for a slot")
	assert.Equal(t, int64(3), f.global.Stats().InUse)
	g.release()
	wg.Wait()
	assert.LessOrEqual(t, a.maxIn.Load()+b.maxIn.Load(), int64(6))
	assert.LessOrEqual(t, a.maxIn.Load(), int64(3))
	assert.LessOrEqual(t, b.maxIn.Load(), int64(3))
	assert.Equal(t, int64(12), a.requests.Load()+b.requests.Load())
	assert.Equal(t, int64(3), f.global.Stats().Limit)
}

// 10 000 GETs at concurrency 64 reuse about 64 connections (2 000 under
// the race detector, which slows each request tenfold).
func TestConnectionsReusedUnderFanOut(t *testing.T) {
	srv := newServer(t, okHandler(strings.Repeat("b", 1024)))
	f := newFetcher(t, Options{Concurrency: 64, PerHost: 64, Retry: retry.NoRetry()})
	n := 10000
	if raceEnabled {
		n = 2000
	}
	urls := make([]string, n)
	for i := range urls {
		urls[i] = srv.URL
	}
	for _, r := range f.All(context.Background(), urls) {
		require.NoError(t, r.Err)
	}
	// The transport keeps PerHost idle connections and opens at most PerHost
	// at once; a connection it discards (rarely, under load) is replaced, hence
	// the small slack. A transport with 2 idle connections per host opens
	// thousands here.
	t.Logf("%d requests, %d connections", n, srv.accepts.Load())
	assert.LessOrEqual(t, srv.accepts.Load(), int64(64+4), "connections opened")
	assert.LessOrEqual(t, srv.maxIn.Load(), int64(64))
	st := f.Stats()
	assert.Equal(t, int64(n), st.OK)
	assert.Equal(t, int64(n*1024), st.Bytes)
}

// Adaptive per-host caps shrink on 503 and grow back on success.
func TestAdaptivePerHostShrinksOnOverloadAndGrows(t *testing.T) {
	var overloaded atomic.Bool
	overloaded.Store(true)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if overloaded.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	f := newFetcher(t, Options{Concurrency: 8, Retry: retry.NoRetry(), Adaptive: &limit.AIMDOptions{Min: 1, Max: 8, Initial: 8, Window: 1}})
	key := strings.TrimPrefix(srv.URL, "http://")
	for range 4 {
		f.Get(context.Background(), srv.URL)
	}
	shrunk := f.hosts.Limit(key)
	assert.Less(t, shrunk, int64(8), "503s shrink the host's cap")
	overloaded.Store(false)
	for range 20 {
		require.NoError(t, f.Get(context.Background(), srv.URL).Err)
	}
	assert.Greater(t, f.hosts.Limit(key), shrunk, "successes grow it back")
}

// The adaptive cap grows on responses only: refused connections (and the
// caller's cancellations) say nothing about the host's capacity.
func TestAdaptiveCapDoesNotGrowWithoutResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFetcher(t, Options{Retry: retry.NoRetry(), Adaptive: &limit.AIMDOptions{Min: 1, Initial: 2, Max: 8, Window: 1}})
	for range 10 {
		require.Error(t, f.Get(context.Background(), "http://"+addr+"/").Err)
	}
	assert.Equal(t, int64(2), f.hosts.Limit(addr))
}

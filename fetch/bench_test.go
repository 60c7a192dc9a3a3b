package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
)

// The three benchmarks fetch b.N URLs from one local server returning 1 KiB
// bodies, 64 requests at a time, so ns/op is ns per request. Server-side
// work and allocations are included in all three alike.

const benchConcurrency = 64

func benchServer(b *testing.B) *httptest.Server {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchURLs(srv *httptest.Server, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = srv.URL + "/item"
	}
	return urls
}

func BenchmarkFetcherAll(b *testing.B) {
	srv := benchServer(b)
	f := newFetcher(b, Options{Concurrency: benchConcurrency, PerHost: benchConcurrency, Retry: retry.NoRetry()})
	urls := benchURLs(srv, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for _, r := range f.All(context.Background(), urls) {
		if r.Err != nil || len(r.Body) != 1024 {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkHandWrittenSemaphoreLoop is what a careful programmer writes by
// hand: a channel semaphore and one http.Client with a tuned transport.
func BenchmarkHandWrittenSemaphoreLoop(b *testing.B) {
	srv := benchServer(b)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: benchConcurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	urls := benchURLs(srv, b.N)
	bodies := make([][]byte, len(urls))
	b.ReportAllocs()
	b.ResetTimer()
	sem := make(chan struct{}, benchConcurrency)
	var wg sync.WaitGroup
	for i, u := range urls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			bodies[i], err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || len(bodies[i]) != 1024 {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkNaiveDefaultClient uses the default transport's settings
// (MaxIdleConnsPerHost 2) with a goroutine per URL, 64 at a time.
func BenchmarkNaiveDefaultClient(b *testing.B) {
	srv := benchServer(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	urls := benchURLs(srv, b.N)
	bodies := make([][]byte, len(urls))
	b.ReportAllocs()
	b.ResetTimer()
	sem := make(chan struct{}, benchConcurrency)
	var wg sync.WaitGroup
	for i, u := range urls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			resp, err := client.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			bodies[i], err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkGetSequential measures the per-request overhead of one Get.
func BenchmarkGetSequential(b *testing.B) {
	srv := benchServer(b)
	f := newFetcher(b, Options{Retry: retry.NoRetry()})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := f.Get(ctx, srv.URL); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

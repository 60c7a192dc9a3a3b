package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocolly/colly/v2"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/sluicego/sluice/fetch"
)

// The Fetch benchmarks GET b.N distinct URLs from one local server returning
// 1 KiB bodies, 64 requests at a time, so ns/op is per request. The server
// runs in the same process for all implementations alike.
const fetchConcurrency = 64

func fetchServer(tb testing.TB) *httptest.Server {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func fetchURLs(srv *httptest.Server, n int) []string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = srv.URL + "/page?i=" + strconv.Itoa(i)
	}
	return urls
}

func BenchmarkFetch(b *testing.B) {
	const kase = "10k-1KiB-c64/"
	b.Run(kase+"sluice", func(b *testing.B) {
		srv := fetchServer(b)
		f, err := fetch.New(fetch.Options{Concurrency: fetchConcurrency, PerHost: fetchConcurrency})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(f.CloseIdleConnections)
		urls := fetchURLs(srv, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for _, r := range f.All(context.Background(), urls) {
			if r.Err != nil || len(r.Body) != 1024 {
				b.Fatal(r.Err)
			}
		}
	})
	b.Run(kase+"handwritten", func(b *testing.B) {
		srv := fetchServer(b)
		tr := &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   fetchConcurrency,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}
		client := &http.Client{Transport: tr}
		b.Cleanup(tr.CloseIdleConnections)
		urls := fetchURLs(srv, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		sem := make(chan struct{}, fetchConcurrency)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for _, u := range urls {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				resp, err := client.Get(u)
				if err != nil {
					failed.Add(1)
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || len(body) != 1024 {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatal(failed.Load(), "requests failed")
		}
	})
	b.Run(kase+"naive-default-client", func(b *testing.B) {
		srv := fetchServer(b)
		tr := http.DefaultTransport.(*http.Transport).Clone() // DefaultClient's settings: 2 idle conns per host
		client := &http.Client{Transport: tr}
		b.Cleanup(tr.CloseIdleConnections)
		urls := fetchURLs(srv, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		sem := make(chan struct{}, fetchConcurrency)
		var wg sync.WaitGroup
		for _, u := range urls {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				resp, err := client.Get(u)
				if err != nil {
					return
				}
				_, _ = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			})
		}
		wg.Wait()
	})
	b.Run(kase+"retryablehttp", func(b *testing.B) {
		srv := fetchServer(b)
		client := retryablehttp.NewClient()
		client.Logger = nil
		b.Cleanup(client.HTTPClient.CloseIdleConnections)
		urls := fetchURLs(srv, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		sem := make(chan struct{}, fetchConcurrency)
		var wg sync.WaitGroup
		var failed atomic.Int64
		for _, u := range urls {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				resp, err := client.Get(u)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatal(failed.Load(), "requests failed")
		}
	})
	b.Run(kase+"colly-async", func(b *testing.B) {
		srv := fetchServer(b)
		c := colly.NewCollector(colly.Async(true), colly.AllowURLRevisit())
		if err := c.Limit(&colly.LimitRule{DomainGlob: "*", Parallelism: fetchConcurrency}); err != nil {
			b.Fatal(err)
		}
		var ok, failed atomic.Int64
		c.OnResponse(func(r *colly.Response) {
			if len(r.Body) == 1024 {
				ok.Add(1)
			}
		})
		c.OnError(func(*colly.Response, error) { failed.Add(1) })
		urls := fetchURLs(srv, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for _, u := range urls {
			if err := c.Visit(u); err != nil {
				b.Fatal(err)
			}
		}
		c.Wait()
		b.StopTimer()
		if ok.Load() != int64(b.N) {
			b.Fatalf("colly fetched %d of %d (%d errors)", ok.Load(), b.N, failed.Load())
		}
	})
}

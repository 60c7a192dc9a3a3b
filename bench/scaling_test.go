package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicego/sluice/fetch"
)

// scalingLevels are the concurrencies (fetch) and worker counts (workqueue)
// of the scaling curve.
var scalingLevels = []int{1, 2, 4, 8, 16, 32, 64, 128, 256}

// BenchmarkScaling draws the scaling curve: ns/op per request or job at each
// concurrency, each implementation against its baseline in the same run.
//
//   - fetch-c<N>: GETs of distinct URLs from one loopback server that answers
//     every request after 1ms with 1 KiB; sluice's fetch.Fetcher (All,
//     Concurrency and PerHost N) against nethttp, N goroutines taking URLs
//     from a channel and calling one http.Client whose transport keeps N
//     idle connections. Both first fetch 2N URLs, untimed, to open their
//     connections: the curve is the steady state.
//   - workqueue-w<N>: jobs of 10µs of CPU, one submitter, N workers, a
//     buffer of 2N; sluice's workqueue against a plain buffered channel
//     feeding N goroutines (the pools of BenchmarkWorkqueue).
func BenchmarkScaling(b *testing.B) {
	for _, c := range scalingLevels {
		b.Run(fmt.Sprintf("fetch-c%d/sluice", c), func(b *testing.B) {
			srv := slowServer(b)
			f, err := fetch.New(fetch.Options{Concurrency: c, PerHost: c})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(f.CloseIdleConnections)
			get := func(urls []string) {
				for _, r := range f.All(context.Background(), urls) {
					if r.Err != nil || len(r.Body) != 1024 {
						b.Fatal(r.Err)
					}
				}
			}
			get(fetchURLs(srv, 2*c)) // open the connections
			urls := fetchURLs(srv, b.N)
			b.ResetTimer()
			get(urls)
		})
		b.Run(fmt.Sprintf("fetch-c%d/nethttp", c), func(b *testing.B) {
			srv := slowServer(b)
			tr := &http.Transport{
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        c,
				MaxIdleConnsPerHost: c,
				IdleConnTimeout:     90 * time.Second,
			}
			client := &http.Client{Transport: tr}
			b.Cleanup(tr.CloseIdleConnections)
			get := func(urls []string) {
				next := make(chan string)
				var wg sync.WaitGroup
				for range c {
					wg.Go(func() {
						for u := range next {
							resp, err := client.Get(u)
							if err != nil {
								b.Error(err)
								continue
							}
							body, err := io.ReadAll(resp.Body)
							_ = resp.Body.Close()
							if err != nil || resp.StatusCode != http.StatusOK || len(body) != 1024 {
								b.Errorf("%s: %d %d bytes %v", u, resp.StatusCode, len(body), err)
							}
						}
					})
				}
				for _, u := range urls {
					next <- u
				}
				close(next)
				wg.Wait()
			}
			get(fetchURLs(srv, 2*c)) // open the connections
			urls := fetchURLs(srv, b.N)
			b.ResetTimer()
			get(urls)
		})
	}
	for _, w := range scalingLevels {
		for _, pm := range []poolMaker{{"sluice", newSluicePool}, {"channel", newChannelPool}} {
			b.Run(fmt.Sprintf("workqueue-w%d/%s", w, pm.name), func(b *testing.B) {
				p := pm.new(w, 2*w, spin10us)
				b.ResetTimer()
				submitAll(b.N, 1, p)
				p.finish()
			})
		}
	}
}

// slowServer answers every request after 1ms with 1 KiB.
func slowServer(tb testing.TB) *httptest.Server {
	body := strings.Repeat("x", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		_, _ = io.WriteString(w, body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

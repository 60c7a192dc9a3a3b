package bench

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicego/sluice/fetch"
)

// The FetchMix benchmarks fetch one batch of 5 000 URLs per op from three
// loopback servers (three hosts), 64 requests at a time, with the mix of
// issue 10: 89 % 1 KiB pages, 5 % 404, 3 % 503 with Retry-After: 1 the
// first time the URL is asked (then 200), 2 % pages answered after 250 ms,
// 1 % connections reset (RST) before any response. ns/op is the batch's
// wall time.
//
// The metric batch/slowest is the batch's wall time divided by its slowest
// URL's own time: the largest Result.Duration - Result.Wait, from the
// URL's first send to its final outcome, 503 backoff and retries included.
// A batch that never lets a URL waiting out a backoff stall the others
// takes little more than that slowest URL.
const (
	mixURLs        = 5000
	mixConcurrency = 64
)

// mixServer is the three hosts. Each batch asks URLs with a fresh prefix,
// so a 503 URL is "first asked" once per batch.
type mixServer struct {
	hosts [3]*httptest.Server
	mu    sync.Mutex
	asked map[string]bool // busy paths asked once already
	conns atomic.Int64    // connections accepted, all hosts
}

func newMixServer(tb testing.TB) *mixServer {
	m := &mixServer{asked: map[string]bool{}}
	page := strings.Repeat("x", 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch kind {
		case "missing":
			http.NotFound(w, r)
			return
		case "busy":
			m.mu.Lock()
			again := m.asked[r.URL.Path]
			m.asked[r.URL.Path] = true
			m.mu.Unlock()
			if !again {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		case "slow":
			select {
			case <-time.After(250 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case "reset":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close sends RST
			}
			_ = conn.Close()
			return
		}
		_, _ = io.WriteString(w, page)
	})
	for i := range m.hosts {
		m.hosts[i] = httptest.NewUnstartedServer(h)
		m.hosts[i].Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				m.conns.Add(1)
			}
		}
		m.hosts[i].Start()
		tb.Cleanup(m.hosts[i].Close)
	}
	return m
}

// urls returns batch number n's URLs: the mix shuffled the same way every
// time, spread over the three hosts.
func (m *mixServer) urls(n int) []string {
	kinds := make([]string, 0, mixURLs)
	for _, k := range []struct {
		kind string
		pct  int
	}{{"page", 89}, {"missing", 5}, {"busy", 3}, {"slow", 2}, {"reset", 1}} {
		for range mixURLs * k.pct / 100 {
			kinds = append(kinds, k.kind)
		}
	}
	rng := rand.New(rand.NewPCG(10, 1))
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	urls := make([]string, len(kinds))
	prefix := "/b" + strconv.Itoa(n) + "-"
	for i, k := range kinds {
		urls[i] = m.hosts[i%3].URL + "/" + k + prefix + strconv.Itoa(i)
	}
	return urls
}

func BenchmarkFetchMix(b *testing.B) {
	const kase = "5k-mix-c64/"
	b.Run(kase+"sluice", func(b *testing.B) {
		m := newMixServer(b)
		finished := make([]time.Time, mixURLs) // by Result.Index
		f, err := fetch.New(fetch.Options{Concurrency: mixConcurrency, PerHost: mixConcurrency,
			OnResult: func(r fetch.Result) { finished[r.Index] = time.Now() }})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(f.CloseIdleConnections)
		var mx mixMetrics
		b.ReportAllocs()
		b.ResetTimer()
		for n := range b.N {
			urls := m.urls(n)
			start := time.Now()
			res := f.All(context.Background(), urls)
			wall := time.Since(start)
			own := make([]time.Duration, len(res))
			sent := make([]time.Duration, len(res))
			for i, r := range res {
				if err := mixCheck(r.URL, r.Err); err != nil {
					b.Fatal(err)
				}
				own[i] = r.Duration - r.Wait
				sent[i] = finished[i].Sub(start) - own[i]
			}
			mx.add(wall, own, sent)
		}
		mx.report(b)
	})
	// The tutorial's naive scraper: a semaphore and a tuned client, never
	// retrying anything (its 503 URLs fail).
	b.Run(kase+"naive-noretry", semaphoreBench(func(client *http.Client, u string) { _ = getOnce(client, u) }))
	// A hand-written loop that retries 5xx and resets as sluice does (3
	// attempts, Retry-After honoured) but sleeps through each backoff in its
	// slot: what a retry waiting inside the worker costs the batch.
	b.Run(kase+"sleep-in-slot", semaphoreBench(func(client *http.Client, u string) {
		for attempt := 1; attempt <= 3; attempt++ {
			err := getOnce(client, u)
			var busy *busyError
			switch {
			case err == nil || attempt == 3:
			case errors.As(err, &busy):
				time.Sleep(busy.after)
				continue
			case !errors.Is(err, errNotFound):
				time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
				continue
			}
			break
		}
	}))
}

// semaphoreBench benchmarks a hand-written loop that calls get for each URL
// of a batch, mixConcurrency at a time, with its own client.
func semaphoreBench(get func(client *http.Client, u string)) func(*testing.B) {
	return func(b *testing.B) {
		m := newMixServer(b)
		client := &http.Client{Transport: mixTransport()}
		b.Cleanup(client.CloseIdleConnections)
		var mx mixMetrics
		b.ResetTimer()
		for n := range b.N {
			urls := m.urls(n)
			own := make([]time.Duration, len(urls))
			sent := make([]time.Duration, len(urls))
			start := time.Now()
			semaphoreLoop(urls, func(i int, u string) {
				t0 := time.Now()
				sent[i] = t0.Sub(start)
				get(client, u)
				own[i] = time.Since(t0)
			})
			mx.add(time.Since(start), own, sent)
		}
		mx.report(b)
	}
}

// mixCheck says whether a Result is what the mix asks for.
func mixCheck(u string, err error) error {
	switch {
	case strings.Contains(u, "/missing/"):
		var se *fetch.StatusError
		if !errors.As(err, &se) || se.Status != http.StatusNotFound {
			return errors.New(u + ": want a 404, got " + errString(err))
		}
	case strings.Contains(u, "/reset/"):
		if err == nil {
			return errors.New(u + ": want a reset")
		}
	case err != nil:
		return errors.New(u + ": " + err.Error())
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

func mixTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        3 * mixConcurrency,
		MaxIdleConnsPerHost: mixConcurrency,
		IdleConnTimeout:     90 * time.Second,
	}
}

var errNotFound = errors.New("404")

type busyError struct{ after time.Duration }

func (e *busyError) Error() string { return "503" }

// getOnce GETs u once and reads its body.
func getOnce(client *http.Client, u string) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	_, err = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode == http.StatusServiceUnavailable:
		s, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &busyError{after: time.Duration(s) * time.Second}
	}
	return nil
}

// semaphoreLoop calls fn for every URL, mixConcurrency at a time, and
// returns when all calls have.
func semaphoreLoop(urls []string, fn func(i int, u string)) {
	sem := make(chan struct{}, mixConcurrency)
	var wg sync.WaitGroup
	for i, u := range urls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i, u)
		})
	}
	wg.Wait()
}

func maxOf(d []time.Duration) time.Duration {
	var m time.Duration
	for _, v := range d {
		m = max(m, v)
	}
	return m
}

// mixMetrics collects, per batch, the wall time over the slowest URL's own
// time, that slowest own time, and when the last URL was first sent (the
// batch cannot end before that plus the URL's own time).
type mixMetrics struct{ ratio, slowest, lastSent []float64 }

func (m *mixMetrics) add(wall time.Duration, own, sent []time.Duration) {
	slowest := maxOf(own)
	m.ratio = append(m.ratio, wall.Seconds()/slowest.Seconds())
	m.slowest = append(m.slowest, float64(slowest.Milliseconds()))
	m.lastSent = append(m.lastSent, float64(maxOf(sent).Milliseconds()))
}

func (m *mixMetrics) report(b *testing.B) {
	b.ReportMetric(mean(m.ratio), "batch/slowest")
	b.ReportMetric(mean(m.slowest), "slowest-ms")
	b.ReportMetric(mean(m.lastSent), "last-sent-ms")
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

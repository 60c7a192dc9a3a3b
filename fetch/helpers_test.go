package fetch

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// fastRetry retries quickly, for tests against real servers.
func fastRetry(attempts int) *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond, Max: 2 * time.Millisecond, Jitter: retry.JitterNone}, MaxAttempts: attempts}
}

// newFetcher returns a Fetcher whose idle connections are closed when the
// test ends.
func newFetcher(t testing.TB, o Options) *Fetcher {
	t.Helper()
	f, err := New(o)
	require.NoError(t, err)
	t.Cleanup(f.CloseIdleConnections)
	return f
}

// server is a loopback httptest server that counts the connections it
// accepted and the requests it is serving, overall and at most at once.
type server struct {
	*httptest.Server
	accepts  atomic.Int64
	requests atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
}

func newServer(t testing.TB, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.maxIn.Load()
			if n <= m || s.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.accepts.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func okHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }
}

// rawServer accepts TCP connections on loopback and hands each to handle on
// its own goroutine; all of them have returned when the test ends.
func rawServer(t testing.TB, handle func(net.Conn)) (addr string, accepts *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepts = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String(), accepts
}

// readRequestHead reads an HTTP request head from c.
func readRequestHead(c net.Conn) {
	buf := make([]byte, 4096)
	var got strings.Builder
	for !strings.Contains(got.String(), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got.Write(buf[:n])
	}
}

// roundTripFunc is an in-memory http.RoundTripper for synctest bubbles,
// where real network I/O does not count as durably blocking.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func fakeResponse(r *http.Request, code int, body string, header ...string) *http.Response {
	h := make(http.Header)
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{
		StatusCode: code, Header: h, Request: r, ContentLength: int64(len(body)),
		Body: io.NopCloser(strings.NewReader(body)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

func fakeClient(rt roundTripFunc) *http.Client { return &http.Client{Transport: rt} }

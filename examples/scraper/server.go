package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// site is one embedded "host": an HTTP server on its own 127.0.0.1 port.
// It is realistically unkind. For each page, decided by the seed:
//
//	~5%   404 Not Found                      (not retried)
//	~8%   503 + Retry-After: 1, the first time only (a retry succeeds)
//	~1%   503 + Retry-After: 1, every time   (fails after the retries)
//	~2%   connection reset, the first time only
//	~0.5% connection reset, every time
//	~1%   no answer for 10s                   (the attempt times out)
//	rest  200 after 5-60ms, one in twenty after 200-400ms (x2 on the slow site)
//
// It serves robots if not empty as /robots.txt, and 404 there otherwise.
// It also records the most requests it ever had in flight at once (stalls
// aside), which shows the client's per-host cap at work.
type site struct {
	URL  string
	seed uint64
	slow float64 // latency multiplier

	srv      *http.Server
	served   chan error
	inFlight atomic.Int64
	maxSeen  atomic.Int64

	mu       sync.Mutex
	attempts map[string]int // per path; bounded by the pages the client asks for
}

func startSite(seed uint64, slow float64, robots string) (*site, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return nil, err
	}
	s := &site{URL: "http://" + ln.Addr().String(), seed: seed, slow: slow,
		served: make(chan error, 1), attempts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page/{n}", s.page)
	if robots != "" {
		mux.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, robots) })
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

// close shuts the site down: handlers get a moment to finish, then the
// remaining connections are closed.
func (s *site) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
	<-s.served
}

func (s *site) page(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	leave := sync.OnceFunc(func() { s.inFlight.Add(-1) })
	defer leave()
	for m := s.maxSeen.Load(); n > m && !s.maxSeen.CompareAndSwap(m, n); m = s.maxSeen.Load() {
	}
	s.mu.Lock()
	s.attempts[r.URL.Path]++
	first := s.attempts[r.URL.Path] == 1
	s.mu.Unlock()

	id, _ := strconv.ParseUint(r.PathValue("n"), 10, 64)
	rnd := rand.New(rand.NewPCG(s.seed, id))
	roll := rnd.Float64()
	delay := time.Duration(float64(5+rnd.IntN(56)) * s.slow * float64(time.Millisecond))
	if rnd.IntN(20) == 0 {
		delay = time.Duration(float64(200+rnd.IntN(201)) * s.slow * float64(time.Millisecond))
	}

	switch {
	case roll < 0.05:
		http.NotFound(w, r)
		return
	case roll < 0.13 && first, roll >= 0.13 && roll < 0.14:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy, come back later", http.StatusServiceUnavailable)
		return
	case roll >= 0.14 && roll < 0.16 && first, roll >= 0.16 && roll < 0.165:
		leave() // first: the client may retry as soon as it sees the RST
		reset(w)
		return
	case roll >= 0.165 && roll < 0.175:
		delay = 10 * time.Second // a stall: the client's attempt timeout must fire
		// Not counted in flight: this handler only learns that the client
		// gave up when the closed connection is noticed, a moment after
		// the client already sent its next request.
		leave()
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done(): // the client gave up
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><title>page %d</title><body>%s</body></html>\n", id, strings.Repeat("lorem ipsum ", 40+rnd.IntN(400)))
}

// reset takes the connection over and closes it with SO_LINGER 0, so the
// kernel sends a TCP RST: the client sees "connection reset by peer".
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

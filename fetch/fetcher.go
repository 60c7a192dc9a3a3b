package fetch

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sluicego/sluice/limit"
)

// Fetcher fetches URLs under a global concurrency cap, a per-host cap (the
// same for every host, or set per host by [Options.HostLimits]), an optional
// per-host rate and robots.txt politeness, retrying transient failures where
// that is safe. It is safe for concurrent use: the caps hold across all
// callers sharing it. Create it with [New].
type Fetcher struct {
	cfg       config
	log       *slog.Logger
	client    *http.Client    // never follows redirects: the Fetcher does, hop by hop
	transport *http.Transport // created by New, nil for a caller's Client
	// checkRedirect is the CheckRedirect of a caller's Client, or nil.
	checkRedirect func(req *http.Request, via []*http.Request) error

	global *limit.Semaphore
	hosts  *limit.Keyed[string]
	rate   *limit.KeyedRate[string] // nil without a per-host rate
	robots *robotsCache             // nil unless Options.Robots
	// breakers holds a circuit breaker per host key; nil unless
	// Options.Breaker.
	breakers *limit.KeyedBreaker[string]

	stats counters
	// userAgent is the User-Agent header value of requests made by Get,
	// All and Stream, shared read-only (cap 1, so an append copies it).
	userAgent []string
}

// New returns a Fetcher configured by o, or an error wrapping
// [ErrInvalidOptions] if o is out of range. New starts no goroutines; call
// [Fetcher.CloseIdleConnections] when done with the Fetcher.
func New(o Options) (*Fetcher, error) {
	c, err := o.normalize()
	if err != nil {
		return nil, err
	}
	f := &Fetcher{cfg: c, log: c.Logger, global: limit.NewSemaphore(int64(c.Concurrency)),
		userAgent: []string{c.UserAgent}}
	if c.Adaptive != nil {
		if f.hosts, err = limit.NewAdaptiveKeyed[string](*c.Adaptive); err != nil {
			return nil, fmt.Errorf("%w: Adaptive: %w", ErrInvalidOptions, err)
		}
	} else if !c.hostLimits.empty() {
		hl, def := c.hostLimits, int64(c.PerHost)
		f.hosts = limit.NewKeyedFunc(func(key string) int64 { return hl.limitOf(key, def) })
	} else {
		f.hosts = limit.NewKeyed[string](int64(c.PerHost))
	}
	switch {
	case c.MinDelay > 0:
		f.rate = limit.NewKeyedDelay[string](c.MinDelay, 0)
	case c.PerHostRate > 0:
		f.rate = limit.NewKeyedRate[string](c.PerHostRate, c.PerHostBurst, 0)
	}
	if c.Client != nil {
		// A copy, keeping the caller's Transport, Jar and Timeout (which
		// now bounds each hop), that returns redirects to us.
		client := *c.Client
		f.checkRedirect, client.CheckRedirect = client.CheckRedirect, noFollow
		f.client = &client
	} else {
		f.transport = newTransport(c)
		f.client = &http.Client{Transport: f.transport, CheckRedirect: noFollow}
	}
	if c.Breaker != nil {
		if f.breakers, err = limit.NewKeyedBreaker[string](*c.Breaker); err != nil {
			return nil, fmt.Errorf("%w: Breaker: %w", ErrInvalidOptions, err)
		}
	}
	if c.Robots {
		f.robots = newRobotsCache(c, f.getRobots)
	}
	return f, nil
}

// CloseIdleConnections closes the idle keep-alive connections of the
// Fetcher's client, ending their goroutines. Call it when done with the
// Fetcher; it stays usable afterwards. The Fetcher never calls it by itself:
// closing connections after failures leads to TIME_WAIT pile-ups.
func (f *Fetcher) CloseIdleConnections() {
	f.client.CloseIdleConnections()
}

// Get fetches rawURL with a GET request; see Do.
func (f *Fetcher) Get(ctx context.Context, rawURL string) Result {
	start := f.begin()
	var s retryState
	if res, ok := f.openGet(ctx, &s, rawURL, start); !ok {
		return f.finish(res, rawURL, 0, start)
	}
	return f.finish(f.run(ctx, &s), rawURL, 0, start)
}

// openGet sets s up for a GET of rawURL, for Get and for each URL of a
// batch; see open. It returns the final Result and false if the request
// cannot be made.
func (f *Fetcher) openGet(ctx context.Context, s *retryState, rawURL string, start time.Time) (Result, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %w", ErrInvalidRequest, err)}, false
	}
	req.Header["User-Agent"] = f.userAgent // no per-request allocation
	return f.open(ctx, s, req, start)
}

// Do sends req and returns its Result; it blocks until the Result is final.
// The call, waits and retries included, ends when ctx or req's own context
// ends, whichever is first; if either has already ended, nothing is sent.
// req is not modified.
//
// A request that cannot be sent at all (see [ErrInvalidRequest]) fails at
// once, with Attempts 0 and no retry.
//
// Before each attempt Do waits for a slot of the request's host
// ([Options.PerHost] or [Options.HostLimits]), then for the host's rate or
// Crawl-delay, then for a global slot ([Options.Concurrency]); it holds both
// while the attempt runs and releases them before any retry backoff. Taking the host slot first
// means a request queued behind a busy host never holds a global slot that
// requests to other hosts could use.
//
// A failed attempt is retried, under [Options.Retry], only if it failed
// transiently (a network error, a reset, an attempt timeout, or status 408,
// 425, 429, 500, 502, 503 or 504) and the request is safe to repeat: its
// method is GET, HEAD, OPTIONS, TRACE, PUT or DELETE, or it carries an
// Idempotency-Key (or X-Idempotency-Key) header; and it has no body or req.GetBody can produce it
// again. Bodies are never buffered to be replayed. A Retry-After header on
// a retried response sets the minimum wait, capped by the policy's MaxHint.
//
// Redirects (301, 302, 303, 307, 308 with a Location) are followed by the
// Fetcher, not inside the Client, and every hop is a request to its own
// host: Do releases the previous hop's slots (its body drained and
// closed), checks the hop's URL against its host's robots.txt (a hop into
// a disallowed path ends the Result with [ErrDisallowed], unsent), then waits
// for that host's slot, rate or Crawl-delay and a global slot, like a first
// request; a hop never holds two hosts' slots. Each hop has its own
// [Options.AttemptTimeout]. As in net/http: 301, 302 and 303 turn any method
// but HEAD into a GET without body; 307 and 308 keep the method and send the
// body again from req.GetBody (without GetBody, the chain stops with
// [ErrRedirect]); Authorization, Cookie and the other credential headers are
// dropped once a hop leaves the first host's domain and its subdomains;
// each hop gets a Referer, except from https to http. At most [MaxRedirects]
// redirects are followed. A transient failure at any hop fails the
// attempt, and a retry starts again from req's URL; [Result.Attempts] counts
// attempts, not hops, and [Result.FinalURL] is the URL of the last response.
func (f *Fetcher) Do(ctx context.Context, req *http.Request) Result {
	res, _ := f.do(ctx, req, buffered)
	return res
}

// do is Do in mode m: it returns the final Result and, in a mode other
// than buffered, the final response held unread (see [mode]), or nil.
func (f *Fetcher) do(ctx context.Context, req *http.Request, m mode) (Result, *http.Response) {
	start := f.begin()
	var s retryState
	ctx, cancel, res, ok := f.openRequest(ctx, &s, req, start)
	if ok {
		s.mode = m
		res = f.run(ctx, &s)
	}
	if s.held != nil {
		s.held.Body.(*heldBody).cancelWhenDone(cancel) // the body still reads under ctx
	} else {
		cancel()
	}
	return f.finish(res, requestURL(req), 0, start), s.held
}

// openRequest sets s up for req, for Do and for each request of a batch;
// see open. It checks req first ([ErrInvalidRequest]) and its own context,
// and returns the context to send req with, which ends when ctx or req's
// context ends, and the function the caller must call once req is done.
// It returns the final Result and false if req is not to be sent.
func (f *Fetcher) openRequest(ctx context.Context, s *retryState, req *http.Request, start time.Time) (context.Context, context.CancelFunc, Result, bool) {
	if err := checkRequest(req); err != nil {
		return ctx, noCancel, Result{Err: err}, false
	}
	if err := req.Context().Err(); err != nil {
		return ctx, noCancel, Result{Err: err}, false
	}
	ctx, cancel := withRequestContext(ctx, req.Context())
	res, ok := f.open(ctx, s, req, start)
	return ctx, cancel, res, ok
}

func noCancel() {}

// requestURL returns req's URL as Result.URL has it, "" if it has none.
func requestURL(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	return req.URL.String()
}

func (f *Fetcher) begin() time.Time {
	f.stats.requests.Add(1)
	f.stats.inFlight.Add(1)
	return time.Now()
}

func (f *Fetcher) finish(r Result, rawURL string, index int, start time.Time) Result {
	r.URL, r.Index, r.Duration = rawURL, index, time.Since(start)
	if r.FinalURL == "" && r.Status != 0 {
		r.FinalURL = rawURL // no redirect followed
	}
	if r.Attempts == 0 {
		r.Wait = r.Duration // nothing was sent: all of it was waiting
	}
	if r.Err != nil {
		r.Body = nil
	}
	f.stats.record(&r)
	f.stats.inFlight.Add(-1)
	if f.cfg.OnResult != nil {
		f.cfg.OnResult(r)
	}
	return r
}

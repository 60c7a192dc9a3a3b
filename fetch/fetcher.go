package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// Fetcher fetches URLs under a global concurrency cap, a per-host cap (the
// same for every host, or set per host by Options.HostLimits), an optional
// per-host rate and robots.txt politeness, retrying transient failures where
// that is safe. It is safe for concurrent use: the caps hold across all
// callers sharing it. Create it with New.
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

	stats counters
	// userAgent is the User-Agent header value of requests made by Get,
	// All and Stream, shared read-only (cap 1, so an append copies it).
	userAgent []string
}

// New returns a Fetcher configured by o, or an error wrapping
// ErrInvalidOptions if o is out of range. New starts no goroutines; call
// CloseIdleConnections when done with the Fetcher.
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
	if c.Robots {
		f.robots = newRobotsCache(f, c)
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
// A request that cannot be sent at all (see ErrInvalidRequest) fails at
// once, with Attempts 0 and no retry.
//
// Before each attempt Do waits for a slot of the request's host
// (Options.PerHost or Options.HostLimits), then for the host's rate or
// Crawl-delay, then for a global slot (Options.Concurrency); it holds both while the attempt runs
// and releases them before any retry backoff. Taking the host slot first
// means a request queued behind a busy host never holds a global slot that
// requests to other hosts could use.
//
// A failed attempt is retried, under Options.Retry, only if it failed
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
// a disallowed path ends the Result with ErrDisallowed, unsent), then waits
// for that host's slot, rate or Crawl-delay and a global slot, like a first
// request; a hop never holds two hosts' slots. Each hop has its own
// Options.AttemptTimeout. As in net/http: 301, 302 and 303 turn any method
// but HEAD into a GET without body; 307 and 308 keep the method and send the
// body again from req.GetBody (without GetBody, the chain stops with
// ErrRedirect); Authorization, Cookie and the other credential headers are
// dropped once a hop leaves the first host's domain and its subdomains;
// each hop gets a Referer, except from https to http. At most MaxRedirects
// redirects are followed. A transient failure at any hop fails the
// attempt, and a retry starts again from req's URL; Result.Attempts counts
// attempts, not hops, and Result.FinalURL is the URL of the last response.
func (f *Fetcher) Do(ctx context.Context, req *http.Request) Result {
	start := f.begin()
	if err := checkRequest(req); err != nil {
		rawURL := ""
		if req != nil && req.URL != nil {
			rawURL = req.URL.String()
		}
		return f.finish(Result{Err: err}, rawURL, 0, start)
	}
	if err := req.Context().Err(); err != nil {
		return f.finish(Result{Err: err}, req.URL.String(), 0, start)
	}
	ctx, cancel := withRequestContext(ctx, req.Context())
	defer cancel()
	var s retryState
	if res, ok := f.open(ctx, &s, req, start); !ok {
		return f.finish(res, req.URL.String(), 0, start)
	}
	return f.finish(f.run(ctx, &s), req.URL.String(), 0, start)
}

var errGetBody = errors.New("fetch: request GetBody failed")

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

// retryState is one request's place in its retry loop. It is kept between
// attempts, so that a batch can park a request during a backoff with no
// goroutine waiting for it.
type retryState struct {
	req        *http.Request
	key        string
	robots     *robotsEntry
	replayable bool
	start      time.Time     // the call, or when a batch took the URL
	first      time.Time     // when the first attempt began: MaxElapsed counts from it
	attempt    int           // attempts begun so far
	delay      time.Duration // the last backoff
	wait       time.Duration // Result.Wait, once the first attempt was sent
	last       Result        // the outcome of the last attempt sent, once one failed
}

// open checks req and its host's robots.txt and sets s up for its first
// step. It returns the final Result and false if req is not to be sent.
func (f *Fetcher) open(ctx context.Context, s *retryState, req *http.Request, start time.Time) (Result, bool) {
	if err := checkURL(req.URL); err != nil {
		return Result{Err: invalidURL(req.URL, err)}, false // before anything is waited for
	}
	key := hostKey(req.URL)
	var robots *robotsEntry
	if f.robots != nil {
		var err error
		if robots, err = f.robots.check(ctx, req.URL, key); err != nil {
			return Result{Err: err}, false
		}
	}
	*s = retryState{req: req, key: key, robots: robots, replayable: canRepeat(req), start: start, first: time.Now()}
	return Result{}, true
}

// run is the retry loop of Get and Do: it steps s until its Result is
// final, sleeping through each backoff (holding no slot) until ctx ends.
func (f *Fetcher) run(ctx context.Context, s *retryState) Result {
	for {
		res, delay, final := f.step(ctx, s)
		if final {
			return res
		}
		f.stats.backingOff.Add(1)
		err := sleep(ctx, delay)
		f.stats.backingOff.Add(-1)
		if err != nil {
			return s.interrupted(err)
		}
	}
}

// step makes s's next attempt, holding the slots only while it runs. It
// returns the final Result, or final false and the backoff to wait out
// before the next step. The policy decides as in retry.Do: MaxElapsed
// counts real time since the first attempt began, backoffs included.
func (f *Fetcher) step(ctx context.Context, s *retryState) (res Result, delay time.Duration, final bool) {
	res, delay, final = f.stepOnce(ctx, s)
	if final {
		res.Wait = s.wait
	}
	res.sent = time.Time{}
	return res, delay, final
}

func (f *Fetcher) stepOnce(ctx context.Context, s *retryState) (Result, time.Duration, bool) {
	policy := &f.cfg.policy
	s.attempt++
	attempt := s.attempt
	res, err := f.attempt(ctx, s.req, s.key, attempt, s.robots)
	if attempt == 1 && res.Attempts == 1 {
		s.wait = res.sent.Sub(s.start)
	}
	if err == nil {
		if policy.Budget != nil {
			policy.Budget.Success()
		}
		return res, 0, true
	}
	if attempt > 1 && res.Attempts < attempt {
		// This retry was never sent (ctx ended while it waited for a
		// slot or rate token, or GetBody failed): report the last
		// response and keep its error.
		return lostRetry(ctx, s.last, err), 0, true
	}
	if ctx.Err() != nil || !s.replayable || !transient(err) {
		res.Err = unwrapHint(err)
		return res, 0, true
	}
	d, stop := policy.Next(ctx, err, attempt, s.delay, time.Since(s.first))
	if stop != nil {
		res.Err = stop
		return res, 0, true
	}
	s.delay = d
	s.last = res
	s.last.Err = unwrapHint(err)
	f.log.Debug("fetch: retrying", "url", s.req.URL.Redacted(), "attempt", attempt, "delay", d, "err", err)
	return Result{}, d, false
}

// interrupted returns the Result of s when its backoff was cut short by
// err, the context's error: the last response, with a *retry.Error that
// wraps err and the last attempt's error.
func (s *retryState) interrupted(err error) Result {
	res := s.last
	res.Err = &retry.Error{Reason: err, Last: s.last.Err, Attempts: s.last.Attempts}
	res.Wait = s.wait
	res.sent = time.Time{}
	return res
}

// lostRetry returns the Result of a request whose retry could not be sent
// because of err: last's response, with an error that wraps err (or ctx's
// error, as a *retry.Error) and last's error.
func lostRetry(ctx context.Context, last Result, err error) Result {
	if cerr := ctx.Err(); cerr != nil {
		last.Err = &retry.Error{Reason: cerr, Last: last.Err, Attempts: last.Attempts}
	} else {
		last.Err = fmt.Errorf("%w; attempt %d failed with: %w", err, last.Attempts, last.Err)
	}
	return last
}

// unwrapHint returns the StatusError inside a retry.After hint, so that a
// final error is the plain attempt error.
func unwrapHint(err error) error {
	if _, ok := retry.Hint(err); ok {
		var se *StatusError
		if errors.As(err, &se) {
			return se
		}
	}
	return err
}

// acquire takes the host slot, waits for the host's rate and Crawl-delay,
// then takes a global slot. Pass the returned host release function to
// f.release to give both back.
func (f *Fetcher) acquire(ctx context.Context, key string, robots *robotsEntry) (releaseHost func(), err error) {
	releaseHost, err = f.hosts.Acquire(ctx, key)
	if err != nil {
		return nil, err
	}
	if f.rate != nil {
		if err := f.rate.Wait(ctx, key); err != nil {
			releaseHost()
			return nil, err
		}
	}
	if err := robots.crawlWait(ctx); err != nil {
		releaseHost()
		return nil, err
	}
	if err := f.global.Acquire(ctx, 1); err != nil {
		releaseHost()
		return nil, err
	}
	return releaseHost, nil
}

// release gives back the slots taken by acquire.
func (f *Fetcher) release(releaseHost func()) {
	f.global.Release(1)
	releaseHost()
}

// attempt makes attempt n of req: it sends req and then each redirect hop
// (see Do), every one a request of its own host, and returns the last
// response's Result with Attempts set and the attempt's error (with a
// retry.After hint for a Retry-After header). key and robots are req's
// host's; each hop's host is checked against its robots.txt here.
func (f *Fetcher) attempt(ctx context.Context, req *http.Request, key string, n int, robots *robotsEntry) (res Result, err error) {
	res.Attempts = n - 1
	var c chain
	var next *http.Request // the redirect hop to send, nil for req itself
	for {
		if next, err = f.hop(ctx, req, &c, next, key, n, robots, &res); next == nil {
			return res, err
		}
		// Nothing is held between hops: the next host's robots.txt, slot,
		// rate and Crawl-delay are waited for like a first request's.
		key, robots = hostKey(next.URL), nil
		if f.robots != nil {
			if robots, err = f.robots.check(ctx, next.URL, key); err != nil {
				return res, fmt.Errorf("fetch: following a redirect: %w", err)
			}
		}
	}
}

// hop sends one request of attempt n, req if next is nil or else the
// redirect hop next, holding its host's slot and a global slot while it
// runs (after waiting for the host's rate and Crawl-delay, see acquire),
// and records its response in res. It returns the redirect to follow, with
// the slots released and the response body drained, or nil and the
// attempt's error.
func (f *Fetcher) hop(ctx context.Context, req *http.Request, c *chain, next *http.Request, key string, n int, robots *robotsEntry, res *Result) (*http.Request, error) {
	releaseHost, err := f.acquire(ctx, key, robots)
	if err != nil {
		return nil, err
	}
	defer f.release(releaseHost)

	// The timeout starts now that the slots are held, not while waiting.
	actx, cancel := context.WithTimeout(ctx, f.cfg.AttemptTimeout)
	defer cancel()
	var out *http.Request
	if next == nil {
		out, err = f.prepare(actx, req, n)
	} else {
		out, err = c.prepare(actx, next)
	}
	if err != nil {
		return nil, err
	}
	if next == nil {
		res.Attempts, res.sent = n, time.Now()
		f.stats.attempts.Add(1)
		if n > 1 {
			f.stats.retries.Add(1)
		}
	} else {
		f.stats.redirects.Add(1)
	}
	resp, err := f.client.Do(out)
	if err != nil {
		if isLocationError(err) {
			return nil, fmt.Errorf("%w: %w", ErrRedirect, err)
		}
		err = f.attemptError(ctx, actx, err)
		if errors.Is(err, ErrAttemptTimeout) {
			// Only a timeout is a signal: a refused or cancelled request
			// says nothing about the host's capacity.
			f.feedback(key, err)
		}
		return nil, err
	}
	res.Status, res.Header = resp.StatusCode, resp.Header
	if next != nil {
		res.FinalURL = out.URL.String()
	}
	if isRedirect(resp.StatusCode) {
		if c.ireq == nil {
			c.ireq, c.header = req, out.Header
		}
		follow, stop := f.redirect(c, out, resp)
		if follow != nil {
			drainAndClose(resp.Body)
			f.feedback(key, nil)
			return follow, nil
		}
		if stop != nil {
			err = fmt.Errorf("%w: %w: %w", ErrRedirect, stop, f.statusError(out, resp))
			f.feedback(key, nil)
			return nil, err
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err = f.statusError(out, resp)
		f.feedback(key, err)
		return nil, err
	}
	if out.Method == http.MethodHead {
		res.Body = []byte{}
	} else {
		res.Body, err = readBody(resp, f.cfg.MaxBodyBytes)
	}
	if err == nil {
		_ = resp.Body.Close() // read to EOF: the connection goes back to the pool
	} else {
		drainAndClose(resp.Body)
	}
	if err != nil {
		if !errors.Is(err, ErrBodyTooLarge) {
			err = f.attemptError(ctx, actx, err)
		}
		if ctx.Err() == nil {
			f.feedback(key, err)
		}
		return nil, err
	}
	f.feedback(key, nil)
	return nil, nil
}

// prepare returns the request to send for attempt n: req with ctx, our
// User-Agent unless it has one, and a fresh body from GetBody on retries.
func (f *Fetcher) prepare(ctx context.Context, req *http.Request, n int) (*http.Request, error) {
	out := req.WithContext(ctx)
	if req.Header.Get("User-Agent") == "" {
		out.Header = req.Header.Clone()
		if out.Header == nil {
			out.Header = make(http.Header, 1)
		}
		out.Header.Set("User-Agent", f.cfg.UserAgent)
	}
	if n > 1 && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errGetBody, err)
		}
		out.Body = body
	}
	return out, nil
}

// attemptError turns an error of client.Do or of reading the body into the
// attempt's error: ErrAttemptTimeout when the attempt's own deadline passed,
// or a transport timeout fired, while the caller's context is still live.
func (f *Fetcher) attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var ne net.Error
	if errors.Is(actx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w after %v: %w", ErrAttemptTimeout, f.cfg.AttemptTimeout, err)
	}
	return err
}

// statusError drains and closes a non-2xx response and returns its
// *StatusError, marked with the Retry-After wait if the header has one.
func (f *Fetcher) statusError(req *http.Request, resp *http.Response) error {
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, snippetBytes))
	drainAndClose(resp.Body)
	se := &StatusError{Method: methodOf(req), URL: req.URL.Redacted(), Status: resp.StatusCode, Body: snippet}
	if !transientStatus(resp.StatusCode) {
		return se
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if d, ok := retry.ParseRetryAfter(v, time.Now()); ok {
			return retry.After(se, d)
		}
	}
	return se
}

// feedback reports an attempt's outcome to an adaptive per-host cap, while
// the attempt still holds its host slot: 429, 503 and timeouts are overload,
// any other response is a success.
func (f *Fetcher) feedback(key string, err error) {
	if f.cfg.Adaptive == nil {
		return
	}
	if err == nil {
		f.hosts.Success(key)
		return
	}
	var se *StatusError
	overload := errors.Is(err, ErrAttemptTimeout) ||
		errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Status == http.StatusServiceUnavailable)
	if overload {
		f.hosts.Overload(key)
	} else {
		f.hosts.Success(key)
	}
}

func methodOf(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// canRepeat reports whether req may be sent again: an idempotent method or
// an Idempotency-Key header, and a body that GetBody can recreate (or none).
func canRepeat(req *http.Request) bool {
	idempotent := false
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		idempotent = true
	default:
		_, key := req.Header["Idempotency-Key"]
		_, xkey := req.Header["X-Idempotency-Key"]
		idempotent = key || xkey
	}
	if !idempotent {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// transient reports whether an attempt's error is worth another attempt.
func transient(err error) bool {
	if errors.Is(err, errGetBody) || errors.Is(err, ErrBodyTooLarge) || errors.Is(err, ErrRedirect) ||
		errors.Is(err, ErrDisallowed) || errors.Is(err, ErrRobotsUnavailable) || errors.Is(err, ErrInvalidRequest) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return transientStatus(se.Status)
	}
	if errors.Is(err, ErrAttemptTimeout) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		// "no such host" stays so; a DNS timeout or SERVFAIL may not.
		return dns.IsTimeout || dns.IsTemporary
	}
	return isNetworkError(err)
}

// isNetworkError reports whether err is a failure of the connection:
// refused, reset, broken, closed early, or timed out.
func isNetworkError(err error) bool {
	if errors.Is(err, ErrAttemptTimeout) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a connection closed before the response as a plain
	// error; match its wording as the last resort.
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "server closed") ||
		strings.Contains(msg, "broken pipe")
}

// hostKey returns the key of the per-host limits: lower-cased host and
// port, the port defaulting from the scheme.
func hostKey(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port != "" && port[0] != '0' && strings.ToLower(u.Host) == u.Host {
		return u.Host // the common case, without allocating
	}
	if port != "" {
		// ":080" dials port 80: spell it as the one number it is.
		if n, err := strconv.ParseUint(port, 10, 16); err == nil {
			port = strconv.FormatUint(n, 10)
		}
	}
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

// readBody reads a 2xx body in full, or fails with ErrBodyTooLarge as soon
// as it is known to exceed maxBytes.
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", ErrBodyTooLarge, resp.ContentLength, maxBytes)
	}
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBytes)
	}
	return buf, nil
}

// drainBytes bounds how much of an unread body is read so that its
// connection can be reused; a longer body's connection is closed instead.
const drainBytes = 64 << 10

// drainAndClose reads what is left of body, up to drainBytes, and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	_ = body.Close()
}

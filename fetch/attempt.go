package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// errGetBody is the error of a retry whose body req.GetBody could not
// produce again; it is never transient.
var errGetBody = errors.New("fetch: request GetBody failed")

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
// response's Result with Attempts set, when req was sent (zero if it was
// not), and the attempt's error (with a retry.After hint for a Retry-After
// header). key and robots are req's host's; each hop's host is checked
// against its robots.txt here.
//
// In mode m other than buffered, the last response may be held (see
// [mode]): it is returned unread, its body a [*heldBody] that owns the
// attempt's slots, and the caller must close it.
func (f *Fetcher) attempt(ctx context.Context, req *http.Request, key string, n int, robots *robotsEntry, m mode) (res Result, sent time.Time, held *http.Response, err error) {
	res.Attempts = n - 1
	c := chain{mode: m}
	var next *http.Request // the redirect hop to send, nil for req itself
	for {
		if next, err = f.hop(ctx, req, &c, next, key, n, robots, &res); next == nil {
			return res, c.sent, c.held, err
		}
		// Nothing is held between hops: the next host's robots.txt, slot,
		// rate and Crawl-delay are waited for like a first request's.
		key, robots = hostKey(next.URL), nil
		if f.robots != nil {
			if robots, err = f.robots.check(ctx, next.URL, key); err != nil {
				return res, c.sent, nil, fmt.Errorf("fetch: following a redirect: %w", err)
			}
		}
	}
}

// hop sends one request of attempt n, req if next is nil or else the
// redirect hop next, holding its host's slot and a global slot while it
// runs (after waiting for the host's rate and Crawl-delay, see acquire),
// and records its response in res. It returns the redirect to follow, with
// the slots released and the response body drained, or nil and the
// attempt's error. With [Options.Breaker], it first asks the host's breaker
// ([ErrHostUnavailable] while it is open) and reports the hop's outcome to
// it (see reportBreaker).
func (f *Fetcher) hop(ctx context.Context, req *http.Request, c *chain, next *http.Request, key string, n int, robots *robotsEntry, res *Result) (follow *http.Request, err error) {
	if f.breakers != nil {
		permit, berr := f.breakers.Allow(key)
		if berr != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrHostUnavailable, key, berr)
		}
		defer func() { reportBreaker(ctx, permit, err) }()
	}
	releaseHost, err := f.acquire(ctx, key, robots)
	if err != nil {
		return nil, err
	}
	// The timeout starts now that the slots are held, not while waiting.
	actx, cancel := context.WithTimeout(ctx, f.cfg.AttemptTimeout)
	defer func() {
		if c.held == nil { // else the held body gives them back
			cancel()
			f.release(releaseHost)
		}
	}()
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
		res.Attempts, c.sent = n, time.Now()
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
	if c.mode == transported {
		// net/http's Client follows redirects and reads non-2xx bodies
		// itself: the response goes back unread, with the error that
		// lets the retry loop decide (nil for 2xx and redirects).
		err = heldStatusError(out, resp)
		if err == nil && resp.ContentLength > f.cfg.MaxBodyBytes {
			drainAndClose(resp.Body)
			return nil, tooLarge(resp.ContentLength, f.cfg.MaxBodyBytes)
		}
		f.feedback(key, err)
		c.held = f.hold(resp, actx, cancel, releaseHost)
		return nil, err
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
	if c.mode == opened {
		if resp.ContentLength > f.cfg.MaxBodyBytes {
			drainAndClose(resp.Body)
			return nil, tooLarge(resp.ContentLength, f.cfg.MaxBodyBytes)
		}
		f.feedback(key, nil)
		c.held = f.hold(resp, actx, cancel, releaseHost)
		return nil, nil
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
	if n > 1 && hasBody(req) {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errGetBody, err)
		}
		out.Body = body
	}
	return out, nil
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

package fetch

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/sluicego/sluice/internal/clock"
)

// robotsCache holds the robots.txt rules of recently used hosts, at most
// maxHosts of them (least recently used evicted first). A host's robots.txt
// is fetched by one caller at a time; concurrent callers for the same host
// wait for that fetch (or their own context) instead of fetching it again.
// It starts no goroutines: the fetch runs on the caller that needs it first.
type robotsCache struct {
	get      robotsGetter // sends one robots.txt request
	log      *slog.Logger
	agent    string // our product token, matched against robots.txt groups
	ttl      time.Duration
	errTTL   time.Duration
	maxHosts int

	mu      sync.Mutex
	entries map[string]*robotsEntry
	lru     list.List // of *robotsEntry, most recently used at the front
}

type robotsEntry struct {
	key  string
	elem *list.Element // nil once evicted

	done chan struct{} // closed when the fetch below has finished
	// Set before done is closed, read-only afterwards.
	rules   *robotsRules // nil when err is set
	err     error        // ErrRobotsUnavailable-wrapping error while robots.txt is unavailable
	expires time.Time

	// nextSlot is when the next request may start under Crawl-delay.
	mu       sync.Mutex
	nextSlot time.Time
}

// robotsGetter sends one robots.txt request to target, whose host key is
// key, and returns what the cache keeps of the response. sent is false, with
// ctx's error, if ctx ended before the request could be sent.
type robotsGetter func(ctx context.Context, target *url.URL, key string) (r robotsResponse, sent bool, err error)

// newRobotsCache returns a cache configured by c that fetches robots.txt
// with get.
func newRobotsCache(c config, get robotsGetter) *robotsCache {
	return &robotsCache{
		get: get, log: c.Logger, agent: c.agentToken,
		ttl: c.RobotsTTL, errTTL: c.RobotsErrorTTL, maxHosts: c.RobotsMaxHosts,
		entries: make(map[string]*robotsEntry),
	}
}

// len returns the number of cached hosts.
func (c *robotsCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// check returns nil if u may be fetched, an error wrapping [ErrDisallowed] if
// robots.txt forbids it, one wrapping [ErrRobotsUnavailable] if robots.txt
// could not be fetched, or ctx's error. It fetches the host's robots.txt
// first if it is not cached or has expired, and blocks while another caller
// fetches it. On success it returns the host's entry for the Crawl-delay.
func (c *robotsCache) check(ctx context.Context, u *url.URL, key string) (*robotsEntry, error) {
	e, err := c.entry(ctx, u, key)
	if err != nil {
		return nil, err
	}
	if e.err != nil {
		return nil, e.err
	}
	if !e.rules.allowed(u.EscapedPath() + queryPart(u)) {
		return nil, fmt.Errorf("%w: %s", ErrDisallowed, u.Redacted())
	}
	return e, nil
}

func queryPart(u *url.URL) string {
	if u.RawQuery == "" && !u.ForceQuery {
		return ""
	}
	return "?" + u.RawQuery
}

// entry returns the fresh, fetched entry of key.
func (c *robotsCache) entry(ctx context.Context, u *url.URL, key string) (*robotsEntry, error) {
	for {
		c.mu.Lock()
		e := c.entries[key]
		if e != nil {
			select {
			case <-e.done:
				if time.Now().Before(e.expires) {
					c.lru.MoveToFront(e.elem)
					c.mu.Unlock()
					return e, nil
				}
				c.removeLocked(e) // expired: fetch again below
			default:
				c.mu.Unlock()
				select { // another caller is fetching it
				case <-e.done:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		e = &robotsEntry{key: key, done: make(chan struct{})}
		c.entries[key] = e
		e.elem = c.lru.PushFront(e)
		for len(c.entries) > c.maxHosts {
			c.removeLocked(c.lru.Back().Value.(*robotsEntry))
		}
		c.mu.Unlock()

		rules, ttl, cache, err := c.fetch(ctx, u, key)
		if !cache || ctx.Err() != nil {
			// Our caller gave up, or its context could not wait for a slot:
			// do not cache its failure. Waiters see done closed and try
			// again themselves.
			c.mu.Lock()
			c.removeLocked(e)
			c.mu.Unlock()
			close(e.done)
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, err
		}
		e.rules, e.err, e.expires = rules, err, time.Now().Add(ttl)
		close(e.done)
		return e, nil
	}
}

// removeLocked drops e from the cache if it is still there.
func (c *robotsCache) removeLocked(e *robotsEntry) {
	if e.elem == nil {
		return
	}
	c.lru.Remove(e.elem)
	e.elem = nil
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
	}
}

// robotsMaxRedirects is how many redirects a robots.txt fetch follows
// (RFC 9309 asks for at least five). A robots.txt still redirecting after
// them is treated as absent.
const robotsMaxRedirects = 5

// fetch gets robots.txt for u's host with c.get (for a Fetcher: under its
// concurrency caps and attempt timeout), parses it, and returns the rules or
// the [ErrRobotsUnavailable] error to cache, with its TTL. It follows up to
// robotsMaxRedirects redirects, each hop under its own host's slot and rate.
// cache is false when the caller's context did not let a request be sent
// (its error is err): that says nothing about the host.
func (c *robotsCache) fetch(ctx context.Context, u *url.URL, key string) (rules *robotsRules, ttl time.Duration, cache bool, err error) {
	target := &url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host, Path: "/robots.txt"}
	unavailable := func(cause error) (*robotsRules, time.Duration, bool, error) {
		c.log.Debug("fetch: robots.txt unavailable", "host", key, "err", cause)
		return nil, c.errTTL, true, fmt.Errorf("%w: %s: %w", ErrRobotsUnavailable, key, cause)
	}
	hopKey := key
	for hops := 0; ; hops++ {
		r, sent, err := c.get(ctx, target, hopKey)
		if !sent {
			return nil, 0, false, err
		}
		if err != nil {
			return unavailable(err)
		}
		switch code := r.status; {
		case code >= 200 && code < 300:
			c.log.Debug("fetch: robots.txt fetched", "host", key, "bytes", len(r.body))
			return parseRobots(r.body, c.agent), c.ttl, true, nil
		case code == http.StatusTooManyRequests || code >= 500:
			return unavailable(&StatusError{Method: http.MethodGet, URL: target.Redacted(), Status: code})
		case isRedirect(code) && r.location != "" && hops < robotsMaxRedirects:
			next, err := target.Parse(r.location)
			if err == nil && checkURL(next) == nil {
				target, hopKey = next, hostKey(next)
				continue
			}
		}
		// Other 4xx, other 3xx, and redirects too many or to nowhere: no
		// usable robots.txt.
		return &robotsRules{}, c.ttl, true, nil
	}
}

// robotsResponse is what a robotsGetter keeps of a robots.txt response.
type robotsResponse struct {
	status   int
	body     []byte // of a 2xx, at most robotsMaxBytes
	location string // of a redirect
}

// getRobots is the Fetcher's robotsGetter: it sends one robots.txt request
// to target, whose host key is key, holding that host's slot and a global
// slot, within the attempt timeout. sent is false, with ctx's error, if ctx
// ended before it could be sent.
func (f *Fetcher) getRobots(ctx context.Context, target *url.URL, key string) (r robotsResponse, sent bool, err error) {
	releaseHost, err := f.acquire(ctx, key, nil)
	if err != nil {
		return r, false, err
	}
	defer f.release(releaseHost)
	actx, cancel := context.WithTimeout(ctx, f.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target.String(), nil)
	if err != nil {
		return r, true, err
	}
	req.Header.Set("User-Agent", f.cfg.UserAgent)
	f.stats.robotsFetches.Add(1)
	resp, err := f.client.Do(req)
	if err != nil {
		return r, true, f.attemptError(ctx, actx, err)
	}
	defer drainAndClose(resp.Body)
	r.status = resp.StatusCode
	switch {
	case r.status >= 200 && r.status < 300:
		if r.body, err = io.ReadAll(io.LimitReader(resp.Body, robotsMaxBytes)); err != nil {
			return r, true, f.attemptError(ctx, actx, err)
		}
	case isRedirect(r.status):
		r.location = resp.Header.Get("Location")
	}
	return r, true, nil
}

// crawlWait reserves the next Crawl-delay slot of the host and waits for it,
// or returns ctx's error.
func (e *robotsEntry) crawlWait(ctx context.Context) error {
	if e == nil || e.rules == nil || e.rules.crawlDelay <= 0 {
		return nil
	}
	e.mu.Lock()
	now := time.Now()
	at := e.nextSlot
	if at.Before(now) {
		at = now
	}
	e.nextSlot = at.Add(e.rules.crawlDelay)
	e.mu.Unlock()
	return clock.Sleep(ctx, at.Sub(now))
}

package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func robotsServer(t *testing.T, robots func(w http.ResponseWriter), served *[]time.Time, mu *sync.Mutex) (*server, *atomic.Int64) {
	var robotsHits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			robotsHits.Add(1)
			robots(w)
			return
		}
		if served != nil {
			mu.Lock()
			*served = append(*served, time.Now())
			mu.Unlock()
		}
		_, _ = io.WriteString(w, "page")
	})
	return srv, &robotsHits
}

func TestRobotsDisallowAllowAndCrawlDelay(t *testing.T) {
	var mu sync.Mutex
	var served []time.Time
	srv, hits := robotsServer(t, func(w http.ResponseWriter) {
		_, _ = io.WriteString(w, "User-agent: *\nDisallow: /private\nAllow: /private/ok\nCrawl-delay: 0.03\n")
	}, &served, &mu)
	f := newFetcher(t, Options{Robots: true, Concurrency: 4, PerHost: 4})
	ctx := context.Background()

	res := f.Get(ctx, srv.URL+"/private/secret")
	require.ErrorIs(t, res.Err, ErrDisallowed)
	assert.Zero(t, res.Attempts)

	for _, p := range []string{"/public", "/private/ok", "/x"} {
		require.NoError(t, f.Get(ctx, srv.URL+p).Err, p)
	}
	assert.Equal(t, int64(1), hits.Load(), "robots.txt fetched once and cached")
	require.Len(t, served, 3) // the Crawl-delay spacing is checked on a fake clock in TestRobotsCrawlDelayApplied_colly
	st := f.Stats()
	assert.Equal(t, int64(1), st.Disallowed)
	assert.Equal(t, int64(1), st.RobotsFetches)
}

// Concurrent first requests to a host wait for one robots.txt fetch.
func TestRobotsFetchedOncePerHostAtATime(t *testing.T) {
	release := make(chan struct{})
	srv, hits := robotsServer(t, func(w http.ResponseWriter) {
		<-release
		_, _ = io.WriteString(w, "User-agent: *\nDisallow: /no\n")
	}, nil, nil)
	f := newFetcher(t, Options{Robots: true, Concurrency: 32, PerHost: 32})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { assert.NoError(t, f.Get(context.Background(), srv.URL+"/yes").Err) })
	}
	require.Eventually(t, func() bool { return hits.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	assert.Equal(t, int64(1), hits.Load())
	assert.Equal(t, int64(20), srv.requests.Load()-1)
}

func TestRobots4xxAllowsAll(t *testing.T) {
	srv, hits := robotsServer(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, nil, nil)
	f := newFetcher(t, Options{Robots: true})
	require.NoError(t, f.Get(context.Background(), srv.URL+"/anything").Err)
	require.NoError(t, f.Get(context.Background(), srv.URL+"/else").Err)
	assert.Equal(t, int64(1), hits.Load())
}

// robots.txt is not cached forever, 5xx does not disallow forever, and
// Crawl-delay is applied (colly).
func TestRobotsTTLAndServerErrorRetriedLater_colly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var robotsCalls int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path != "/robots.txt" {
				return fakeResponse(r, http.StatusOK, "page"), nil
			}
			robotsCalls++
			switch robotsCalls {
			case 1:
				return fakeResponse(r, http.StatusServiceUnavailable, ""), nil
			case 2:
				return fakeResponse(r, http.StatusOK, "User-agent: *\nDisallow: /old\n"), nil
			default:
				return fakeResponse(r, http.StatusOK, "User-agent: *\nDisallow: /new\n"), nil
			}
		})
		f := newFetcher(t, Options{Client: client, Robots: true, RobotsTTL: time.Hour, RobotsErrorTTL: time.Minute})
		ctx := context.Background()

		res := f.Get(ctx, "http://h/page")
		require.ErrorIs(t, res.Err, ErrRobotsUnavailable, "5xx robots.txt: disallowed for now")
		var se *StatusError
		require.ErrorAs(t, res.Err, &se)
		time.Sleep(59 * time.Second)
		require.ErrorIs(t, f.Get(ctx, "http://h/page").Err, ErrRobotsUnavailable)
		assert.Equal(t, 1, robotsCalls, "the failure is cached for RobotsErrorTTL")

		time.Sleep(2 * time.Second)
		require.NoError(t, f.Get(ctx, "http://h/page").Err, "fetched again after RobotsErrorTTL")
		require.ErrorIs(t, f.Get(ctx, "http://h/old").Err, ErrDisallowed)
		assert.Equal(t, 2, robotsCalls)

		time.Sleep(time.Hour)
		require.NoError(t, f.Get(ctx, "http://h/old").Err, "fetched again after RobotsTTL")
		require.ErrorIs(t, f.Get(ctx, "http://h/new").Err, ErrDisallowed)
		assert.Equal(t, 3, robotsCalls)
	})
}

func TestRobotsUnreachableDisallows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return nil, io.ErrUnexpectedEOF
		})
		f := newFetcher(t, Options{Client: client, Robots: true, Retry: retry.NoRetry()})
		res := f.Get(context.Background(), "http://h/page")
		require.ErrorIs(t, res.Err, ErrRobotsUnavailable)
		assert.NotErrorIs(t, res.Err, ErrDisallowed)
		assert.ErrorIs(t, res.Err, io.ErrUnexpectedEOF)
		assert.Equal(t, OutcomeRobotsUnavailable, res.Outcome())
	})
}

func TestRobotsCrawlDelayApplied_colly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var starts []time.Duration
		origin := time.Now()
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				return fakeResponse(r, http.StatusOK, "User-agent: sluice-fetch\nCrawl-delay: 5\n\nUser-agent: *\nCrawl-delay: 1\n"), nil
			}
			starts = append(starts, time.Since(origin))
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, Concurrency: 3, PerHost: 3})
		for _, r := range f.All(context.Background(), []string{"http://h/1", "http://h/2", "http://h/3"}) {
			require.NoError(t, r.Err)
		}
		assert.Equal(t, []time.Duration{0, 5 * time.Second, 10 * time.Second}, starts, "our group's Crawl-delay")
	})
}

func TestRobotsCacheIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var robotsCalls atomic.Int64
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				robotsCalls.Add(1)
			}
			return fakeResponse(r, http.StatusOK, ""), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, RobotsMaxHosts: 2})
		for _, h := range []string{"a", "b", "c", "a"} {
			require.NoError(t, f.Get(context.Background(), "http://"+h+"/").Err)
			assert.LessOrEqual(t, f.robots.len(), 2)
		}
		assert.Equal(t, int64(4), robotsCalls.Load(), "a was evicted by c and fetched again")
	})
}

// A caller that gives up while fetching robots.txt does not poison the
// cache for the others.
func TestRobotsCanceledFetchIsNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				calls++
				if calls == 1 {
					<-r.Context().Done()
					return nil, r.Context().Err()
				}
			}
			return fakeResponse(r, http.StatusOK, ""), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() { done <- f.Get(ctx, "http://h/") }()
		synctest.Wait()
		waiter := make(chan Result)
		go func() { waiter <- f.Get(context.Background(), "http://h/") }()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, (<-done).Err, context.Canceled)
		require.NoError(t, (<-waiter).Err)
		assert.Equal(t, 2, calls)
	})
}

// The cache needs only a function that gets one robots.txt response: here
// no server at all, and concurrent checks of one host share one get.
func TestRobotsCacheNeedsOnlyAGetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := Options{Robots: true, UserAgent: "bot/1"}.normalize()
		require.NoError(t, err)
		var gets atomic.Int64
		rc := newRobotsCache(c, func(ctx context.Context, target *url.URL, key string) (robotsResponse, bool, error) {
			gets.Add(1)
			assert.Equal(t, "http://example.test/robots.txt", target.String())
			time.Sleep(time.Second) // the other checks wait for this one
			return robotsResponse{status: http.StatusOK, body: []byte("User-agent: bot\nDisallow: /private\n")}, true, nil
		})
		var wg sync.WaitGroup
		for _, path := range []string{"/a", "/b", "/private/x"} {
			wg.Go(func() {
				u, _ := url.Parse("http://example.test" + path)
				_, err := rc.check(context.Background(), u, hostKey(u))
				if path == "/private/x" {
					assert.ErrorIs(t, err, ErrDisallowed)
				} else {
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.EqualValues(t, 1, gets.Load())
	})
}

// A robots.txt fetch that times out disallows the host for RobotsErrorTTL
// as a timeout: counted as RobotsUnavailable, not as the caller's
// cancellation.
func TestRobotsTimeoutIsUnavailableNotCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return fakeResponse(r, http.StatusOK, "page"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, AttemptTimeout: time.Second})
		res := f.Get(context.Background(), "http://h/page")
		require.ErrorIs(t, res.Err, ErrRobotsUnavailable)
		assert.ErrorIs(t, res.Err, ErrAttemptTimeout)
		st := f.Stats()
		assert.Equal(t, int64(1), st.RobotsUnavailable)
		assert.Zero(t, st.Canceled)
	})
}

// A caller whose deadline is too short for the host's rate limit must not
// get the host's robots.txt cached as unavailable for everybody else.
func TestRobotsRateWaitPastCallerDeadlineIsNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var robotsCalls int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				robotsCalls++
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, MinDelay: 10 * time.Minute,
			RobotsTTL: time.Minute, RobotsErrorTTL: time.Minute})
		require.NoError(t, f.Get(context.Background(), "http://h/a").Err) // robots at 0, page at 10m
		time.Sleep(2 * time.Minute)                                       // robots.txt expired; next token at 20m

		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res := f.Get(short, "http://h/b")
		require.Error(t, res.Err)
		assert.NotErrorIs(t, res.Err, ErrDisallowed)

		res = f.Get(context.Background(), "http://h/c")
		require.NoError(t, res.Err, "the short caller's failure was not cached")
		assert.Equal(t, 2, robotsCalls)
	})
}

// Issue 10 item 4: a host whose robots.txt cannot be fetched (answered 500
// or 429, or the connection refused) stays disallowed, but is reported as
// "robots.txt unavailable", never as robots.txt disallowing the URL; the
// page is never requested.
func TestRobotsUnavailableIsNotReportedAsDisallowed(t *testing.T) {
	var pages atomic.Int64
	status := func(code int) *server {
		return newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/robots.txt" {
				w.WriteHeader(code)
				return
			}
			pages.Add(1)
			_, _ = io.WriteString(w, "page")
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	f := newFetcher(t, Options{Robots: true, Retry: fastRetry(3)})
	for _, base := range []string{status(http.StatusInternalServerError).URL, status(http.StatusTooManyRequests).URL, refused} {
		r := f.Get(context.Background(), base+"/p")
		require.ErrorIs(t, r.Err, ErrRobotsUnavailable, base)
		assert.NotErrorIs(t, r.Err, ErrDisallowed, base)
		assert.Equal(t, OutcomeRobotsUnavailable, r.Outcome(), base)
		assert.Equal(t, "robots.txt unavailable", r.Outcome().String())
		assert.Zero(t, r.Attempts, base)
		msg := r.Err.Error()
		assert.Contains(t, msg, "robots.txt unavailable", base)
		assert.NotContains(t, msg, "disallowed by robots.txt", base)
	}
	var se *StatusError
	r := f.Get(context.Background(), status(http.StatusServiceUnavailable).URL+"/p")
	require.ErrorAs(t, r.Err, &se, "the cause is wrapped")
	assert.Equal(t, http.StatusServiceUnavailable, se.Status)

	assert.Zero(t, pages.Load(), "no page was requested")
	st := f.Stats()
	assert.Equal(t, int64(4), st.RobotsUnavailable)
	assert.Zero(t, st.Disallowed)
	assert.Zero(t, st.Attempts)
}

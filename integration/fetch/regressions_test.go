package fetchit

// Regression tests of issue 10, items 1-6: each scenario found against a
// real server, reproduced against nginx.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// Item 1: with Concurrency 64, 64 URLs answered 503 + Retry-After: 2 then
// 200 URLs on another host: the URLs waiting out their backoff must not
// hold the batch's concurrency, so every URL of the other host is sent and
// done before the first retry is due. Decided by order: every B result is
// yielded before any A result, and nginx logged every B request before
// A's first retry.
func TestBatchRetryBackoffDoesNotStallOtherHosts(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"b": "fine"},
		"location / { add_header Retry-After 2 always; return 503; }",
		"")
	f := newFetcher(t, fetch.Options{Concurrency: 64, PerHost: 64,
		Retry: &retry.Policy{MaxAttempts: 2, Initial: 10 * time.Millisecond, MaxHint: 10 * time.Second}})
	var urls []string
	for i := range 64 {
		urls = append(urls, ng.URL(0, fmt.Sprintf("/a?i=%d", i)))
	}
	for i := range 200 {
		urls = append(urls, ng.URL(1, fmt.Sprintf("/b?i=%d", i)))
	}
	var order []int // hosts in the order results arrived
	for r := range f.Stream(context.Background(), slices.Values(urls)) {
		if r.Index < 64 {
			order = append(order, 0)
			assert.Equal(t, 503, r.Status, r.URL)
			assert.Equal(t, 2, r.Attempts, r.URL)
		} else {
			order = append(order, 1)
			assert.NoError(t, r.Err, r.URL)
		}
	}
	require.Len(t, order, len(urls))
	firstA := slices.Index(order, 0)
	assert.Equal(t, 200, firstA, "every result of host B arrives before any of host A (A's were waiting out Retry-After: 2)")

	log := ng.AccessLogN(t, 64*2+200)
	var lastB, firstRetry time.Time
	seenA := map[string]bool{}
	for _, e := range log {
		switch e.Port {
		case ng.Ports[1]:
			if e.Time.After(lastB) {
				lastB = e.Time
			}
		case ng.Ports[0]:
			if seenA[e.URI] && (firstRetry.IsZero() || e.Start().Before(firstRetry)) {
				firstRetry = e.Start()
			}
			seenA[e.URI] = true
		}
	}
	require.False(t, firstRetry.IsZero())
	assert.True(t, lastB.Before(firstRetry), "host B's requests (last ended %v) all ended before host A's first retry (%v): the batch did not stall",
		lastB.Format("15:04:05.000"), firstRetry.Format("15:04:05.000"))
}

// slowPages returns a location block in which nginx proxies /p/ to an
// application server (in this process) that takes d to answer each
// request with 16 KiB, so that nginx holds each request for d.
func slowPages(t *testing.T, d time.Duration) string {
	t.Helper()
	body := []byte(text(16 << 10))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(backend.Close)
	return "location /p/ { proxy_pass " + backend.URL + "; }"
}

// Item 2: a redirect hop to another host waits for that host's slot. 16
// URLs on two hosts each redirect to a third host that nginx limits to 2
// requests at a time (limit_conn 2, answering 503 over it; nginx proxies
// the pages to an application server taking 250 ms each); with PerHost 2
// no hop may exceed it: zero 503s. With the default client the transport's
// own connection cap hides the defect, so the caller's-client case (a
// transport without MaxConnsPerHost) is the one that shows it.
func TestRedirectHopWaitsForTheTargetHostsSlot(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		client func(t *testing.T) *http.Client
	}{
		{"default client", func(*testing.T) *http.Client { return nil }},
		{"caller's client", func(t *testing.T) *http.Client {
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			slow := slowPages(t, 250*time.Millisecond)
			ng := servers.StartNginx(t, servers.NginxConfig{
				Hosts: 3,
				Servers: func(p []int) string {
					redirect := fmt.Sprintf("location /r/ { rewrite ^/r/(.*)$ http://%s/p/$1 redirect; }", servers.Addr(p[2]))
					return fmt.Sprintf(`limit_conn_zone $server_port zone=perhost:1m;
server { listen %s; %s }
server { listen %s; %s }
server { listen %s; limit_conn perhost 2; limit_conn_status 503; %s }
`, servers.Addr(p[0]), redirect, servers.Addr(p[1]), redirect, servers.Addr(p[2]), slow)
				},
			})
			f := newFetcher(t, fetch.Options{Concurrency: 64, PerHost: 2, Retry: fetch.NoRetry(), Client: tc.client(t)})
			var urls []string
			for i := range 16 {
				urls = append(urls, ng.URL(i%2, fmt.Sprintf("/r/%d", i)))
			}
			var failed []string
			for i, r := range f.All(context.Background(), urls) {
				if r.Err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", r.URL, r.Err))
					continue
				}
				assert.Equal(t, ng.URL(2, fmt.Sprintf("/p/%d", i)), r.FinalURL)
			}
			assert.EqualValues(t, 16, f.Stats().Redirects)
			assert.Empty(t, failed, "every hop to the third host waited for its slot")
			log := ng.AccessLogUntil(t, func(l []servers.LogEntry) bool {
				return len(pages(l, ng.Ports[2])) >= 16
			})
			assert.Equal(t, map[int]int{200: 16}, statuses(pages(log, ng.Ports[2])), "the third host (limit_conn 2) answered no 503")
		})
	}
}

// Item 2: a 302 into a path that the target host's robots.txt disallows
// ends the Result as disallowed, and the path is never requested.
func TestRedirectIntoDisallowedPathIsDisallowedAndNeverRequested(t *testing.T) {
	t.Parallel()
	ng := servers.StartNginx(t, servers.NginxConfig{
		Hosts: 2,
		Files: map[string]string{"private/secret": "must not be fetched", "robots.txt": "User-agent: *\nDisallow: /private/\n"},
		Servers: func(p []int) string {
			return fmt.Sprintf(`server { listen %s; location = /robots.txt { return 404; } location /go { return 302 http://%s/private/secret; } }
server { listen %s; }
`, servers.Addr(p[0]), servers.Addr(p[1]), servers.Addr(p[1]))
		},
	})
	f := newFetcher(t, fetch.Options{Robots: true, Retry: fetch.NoRetry()})
	r := f.Get(context.Background(), ng.URL(0, "/go"))
	require.ErrorIs(t, r.Err, fetch.ErrDisallowed)
	assert.Equal(t, fetch.OutcomeDisallowed, r.Outcome())
	assert.Nil(t, r.Body)
	log := ng.Mark(t, 1, "/mark")
	assert.NotContains(t, uris(log), "/private/secret", "the disallowed path was never requested")
}

// Item 2: the Crawl-delay of a redirect's target host spaces the hops to
// it, like first requests.
func TestRedirectHopRespectsTheTargetHostsCrawlDelay(t *testing.T) {
	t.Parallel()
	files := map[string]string{"robots.txt": "User-agent: *\nCrawl-delay: 1\n"}
	for i := range 4 {
		files[fmt.Sprintf("p/%d", i)] = "page"
	}
	ng := servers.StartNginx(t, servers.NginxConfig{
		Hosts: 3,
		Files: files,
		Servers: func(p []int) string {
			redirect := fmt.Sprintf("location = /robots.txt { return 404; } location /r/ { rewrite ^/r/(.*)$ http://%s/p/$1 redirect; }", servers.Addr(p[2]))
			return fmt.Sprintf("server { listen %s; %s }\nserver { listen %s; %s }\nserver { listen %s; }\n",
				servers.Addr(p[0]), redirect, servers.Addr(p[1]), redirect, servers.Addr(p[2]))
		},
	})
	f := newFetcher(t, fetch.Options{Robots: true, Concurrency: 16, PerHost: 4, Retry: fetch.NoRetry()})
	var urls []string
	for i := range 4 {
		urls = append(urls, ng.URL(i%2, fmt.Sprintf("/r/%d", i)))
	}
	for _, r := range f.All(context.Background(), urls) {
		require.NoError(t, r.Err, r.URL)
	}
	log := ng.AccessLogUntil(t, func(l []servers.LogEntry) bool {
		return len(pages(l, ng.Ports[2])) >= 4
	})
	hops := pages(log, ng.Ports[2])
	require.Len(t, hops, 4)
	slices.SortFunc(hops, func(a, b servers.LogEntry) int { return a.Start().Compare(b.Start()) })
	// Crawl-delay spaces the sends by 1 s; nginx sees each a little after
	// its send, by a lag that grows under load: 800 ms leaves room for it,
	// and the defect sent the hops together.
	for i := 1; i < len(hops); i++ {
		gap := hops[i].Start().Sub(hops[i-1].Start())
		assert.GreaterOrEqual(t, gap, 800*time.Millisecond, "hops %d and %d to the Crawl-delay: 1 host were %v apart", i-1, i, gap)
	}
}

// pages returns the entries of the host on port under /p/.
func pages(log []servers.LogEntry, port int) []servers.LogEntry {
	var out []servers.LogEntry
	for _, e := range log {
		if e.Port == port && strings.HasPrefix(e.URI, "/p/") {
			out = append(out, e)
		}
	}
	return out
}

// Item 3: a request that cannot be sent (a port out of range, an
// unsupported scheme, a malformed URL) is one permanent outcome, with no
// attempt and no backoff.
func TestRequestNeverSentIsNotRetried(t *testing.T) {
	t.Parallel()
	var retries atomic.Int64
	f := newFetcher(t, fetch.Options{Retry: &retry.Policy{MaxAttempts: 3, Initial: 200 * time.Millisecond,
		OnRetry: func(int, error, time.Duration) { retries.Add(1) }}})
	var outcomes []fetch.Outcome
	for _, u := range []string{
		"http://127.0.0.1:99999/",
		"http://127.0.0.1:65536/x",
		"ftp://127.0.0.1/file",
		"http://[::1/",
		"http:///no-host",
	} {
		r := f.Get(context.Background(), u)
		require.ErrorIs(t, r.Err, fetch.ErrInvalidRequest, u)
		assert.Equal(t, 0, r.Attempts, "%s: nothing was sent", u)
		assert.Equal(t, fetch.OutcomeInvalid, r.Outcome(), "%s: %v", u, r.Err)
		outcomes = append(outcomes, r.Outcome())
	}
	assert.Zero(t, retries.Load(), "no retry of a request never sent")
	distinct := slices.Compact(slices.Clone(outcomes))
	assert.Len(t, distinct, 1, "one outcome for every request that cannot be sent: %v", outcomes)
	st := f.Stats()
	assert.EqualValues(t, len(outcomes), st.Invalid)
	assert.Zero(t, st.Attempts)
}

// Item 4: a robots.txt that cannot be fetched (answered 500, or the
// connection refused) keeps the host disallowed, but is reported as
// "robots.txt unavailable", not as robots.txt disallowing the URL; the page
// itself is never requested.
func TestRobotsUnavailableIsNotReportedAsDisallowed(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"p": "page"}, "location = /robots.txt { return 500; }")
	refused := servers.Addr(servers.FreePorts(t, 1)[0])
	f := newFetcher(t, fetch.Options{Robots: true, Retry: fetch.NoRetry()})
	for _, u := range []string{ng.URL(0, "/p"), "http://" + refused + "/p"} {
		r := f.Get(context.Background(), u)
		require.ErrorIs(t, r.Err, fetch.ErrRobotsUnavailable, u)
		assert.NotErrorIs(t, r.Err, fetch.ErrDisallowed, u)
		assert.Equal(t, fetch.OutcomeRobotsUnavailable, r.Outcome(), u)
		assert.Equal(t, 0, r.Attempts)
		msg := r.Err.Error()
		assert.Contains(t, msg, "robots.txt unavailable", u)
		assert.NotContains(t, msg, "disallowed by robots.txt", u)
	}
	assert.NotContains(t, uris(ng.Mark(t, 0, "/mark")), "/p", "the page was never requested")
}

// Item 5: Result.Duration of a batch's URL runs from the call, so it
// includes the time the URL waited to be dispatched. With PerHost 1 and
// pages taking about 250 ms each, the fourth URL waits for three others;
// its Duration covers at least the time from the call to the moment nginx
// finished serving it.
func TestBatchDurationIncludesTheDispatchWait(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, nil, slowPages(t, 250*time.Millisecond))
	f := newFetcher(t, fetch.Options{PerHost: 1, Retry: fetch.NoRetry()})
	var urls []string
	for i := range 4 {
		urls = append(urls, ng.URL(0, fmt.Sprintf("/p/%d", i)))
	}
	start := time.Now()
	results := f.All(context.Background(), urls)
	log := ng.AccessLogN(t, 4)
	entry := map[string]servers.LogEntry{}
	for _, e := range log {
		entry[e.URI] = e
	}
	// Bounds from what must have happened before: nginx began URL i (its
	// Start), then its application server took 250 ms; only after that
	// could the Fetcher receive URL i, and only then send URL i+1 (PerHost
	// 1). The slack is for nginx's millisecond timestamps and the moment the
	// batch took each URL from its input (just after the call); a missing
	// dispatch wait would be 250 ms or more.
	const page, slack = 250 * time.Millisecond, 50 * time.Millisecond
	for i, r := range results {
		require.NoError(t, r.Err)
		e, ok := entry[fmt.Sprintf("/p/%d", i)]
		require.True(t, ok)
		received := e.Start().Add(page).Sub(start) // URL i was received no earlier
		assert.GreaterOrEqual(t, r.Duration+slack, received,
			"URL %d: Duration %v, but nginx began serving it %v after the call, and that takes %v", i, r.Duration, e.Start().Sub(start), page)
		if i > 0 {
			prev := entry[fmt.Sprintf("/p/%d", i-1)]
			assert.GreaterOrEqual(t, r.Wait+slack, prev.Start().Add(page).Sub(start),
				"URL %d: Wait %v, but it could not be sent before URL %d was received", i, r.Wait, i-1)
		}
		assert.GreaterOrEqual(t, r.Duration-r.Wait, page-slack,
			"URL %d: Duration - Wait is its own time, a %v page", i, page)
	}
	assert.GreaterOrEqual(t, results[3].Wait, 3*page-slack, "the fourth URL waited for three pages")
}

// Item 6: Do honours the request's own context: a request whose context is
// already canceled is not sent, and one whose context ends during the
// attempt ends then.
func TestDoHonoursTheRequestsContext(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"p": "page", "slow": text(256 << 10)}, "location = /slow { limit_rate 32k; }")
	f := newFetcher(t, fetch.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ng.URL(0, "/p"), nil)
	require.NoError(t, err)
	r := f.Do(context.Background(), req)
	require.ErrorIs(t, r.Err, context.Canceled)
	assert.Equal(t, fetch.OutcomeCanceled, r.Outcome())
	assert.Equal(t, 0, r.Attempts)
	assert.Empty(t, ng.Mark(t, 0, "/mark-canceled"), "nothing was sent")

	// The request's deadline ends a slow download (256 KiB at 32 KiB/s).
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, ng.URL(0, "/slow"), nil)
	require.NoError(t, err)
	r = f.Do(context.Background(), req)
	require.ErrorIs(t, r.Err, context.DeadlineExceeded)
	assert.Nil(t, r.Body)
	assert.Less(t, r.Duration, 4*time.Second, "ended with the request's context, not after the whole body")
}

package fetchit

// Redirects followed hop by hop: each hop waits for its own host's slot,
// Crawl-delay and robots.txt verdict, like a first request.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// Regression test for issue 10, item 2 (found and reproduced against
// nginx): a redirect hop to another host waits for that host's slot. 16
// URLs on two hosts each redirect to a third host that nginx limits to 2
// requests at a time (limit_conn 2, answering 503 over it; nginx proxies
// the pages to an application server taking 250 ms each); with PerHost 2 no
// hop may exceed it: zero 503s. With the default client the transport's own
// connection cap hides the defect, so the caller's-client case (a transport
// without MaxConnsPerHost) is the one that shows it.
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
			f := newFetcher(t, fetch.Options{Concurrency: 64, PerHost: 2, Retry: retry.NoRetry(), Client: tc.client(t)})
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

// Regression test for issue 10, item 2 (found and reproduced against
// nginx): a 302 into a path that the target host's robots.txt disallows
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
	f := newFetcher(t, fetch.Options{Robots: true, Retry: retry.NoRetry()})
	r := f.Get(context.Background(), ng.URL(0, "/go"))
	require.ErrorIs(t, r.Err, fetch.ErrDisallowed)
	assert.Equal(t, fetch.OutcomeDisallowed, r.Outcome())
	assert.Nil(t, r.Body)
	log := ng.Mark(t, 1, "/mark")
	assert.NotContains(t, uris(log), "/private/secret", "the disallowed path was never requested")
}

// Regression test for issue 10, item 2 (found and reproduced against
// nginx): the Crawl-delay of a redirect's target host spaces the hops to
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
	f := newFetcher(t, fetch.Options{Robots: true, Concurrency: 16, PerHost: 4, Retry: retry.NoRetry()})
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

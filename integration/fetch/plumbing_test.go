package fetchit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// peakConcurrency returns the most requests of entries that nginx was
// serving at once, from each one's [Start, Time] interval (an end and a
// start in the same millisecond do not overlap).
func peakConcurrency(entries []servers.LogEntry) int {
	type event struct {
		at    time.Time
		delta int
	}
	var evs []event
	for _, e := range entries {
		evs = append(evs, event{e.Start(), +1}, event{e.Time, -1})
	}
	slices.SortFunc(evs, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // ends first
	})
	n, peak := 0, 0
	for _, e := range evs {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

// An http.Client from sluice, used by plain net/http code from 12
// goroutines at once, keeps PerHost: nginx's access log shows at most 3
// requests in progress at once, all 12 served.
func TestNginxClientFromSluiceHoldsPerHostCap(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"slow": text(40 << 10)}, "location = /slow { limit_rate 32k; }") // ~0.25 s each
	f := newFetcher(t, fetch.Options{PerHost: 3})
	client := f.Client()
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			resp, err := client.Get(ng.URL(0, fmt.Sprintf("/slow?i=%d", i)))
			if !assert.NoError(t, err) {
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			assert.NoError(t, err)
			assert.Len(t, b, 40<<10)
		})
	}
	wg.Wait()
	log := ng.Mark(t, 0, "/mark-cap")
	require.Len(t, log, 12)
	peak := peakConcurrency(log)
	assert.LessOrEqual(t, peak, 3, "nginx never served more than PerHost at once")
	assert.GreaterOrEqual(t, peak, 2, "the requests did overlap")
}

// Through the Transport, a 503 with Retry-After from nginx is retried (a
// GET is safe to repeat) and the last 503 is returned as a response once
// the attempts run out; a POST is sent once.
func TestNginxTransportRetriesOnlySafeRequests(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, nil, "location /busy { add_header Retry-After 0 always; return 503 busy; }")
	f := newFetcher(t, fetch.Options{Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3}})
	client := f.Client()

	resp, err := client.Get(ng.URL(0, "/busy/get"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "busy", string(b), "the last response's body is the caller's")

	resp, err = client.Post(ng.URL(0, "/busy/post"), "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()

	log := ng.Mark(t, 0, "/mark-retry")
	assert.Len(t, ng.Requests(t, 0, "/busy/get"), 3, "GET: every attempt reached nginx")
	assert.Len(t, ng.Requests(t, 0, "/busy/post"), 1, "POST: not retried")
	assert.Len(t, log, 4)
	conns := map[int64]bool{}
	for _, e := range log {
		conns[e.Connection] = true
	}
	assert.Len(t, conns, 1, "each retried body was drained: one connection served them all")
}

// Open streams a body larger than it would buffer, bounded by
// MaxBodyBytes; a Content-Length over the limit fails at once.
func TestNginxOpenStreamsLargeBody(t *testing.T) {
	t.Parallel()
	page := noisy(4 << 20)
	ng := nginxHosts(t, map[string]string{"big": page}, "")
	f := newFetcher(t, fetch.Options{MaxBodyBytes: 8 << 20, PerHost: 1})
	req, _ := http.NewRequest(http.MethodGet, ng.URL(0, "/big"), nil)
	resp, err := f.Open(context.Background(), req)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, int64(len(page)), n)

	small := newFetcher(t, fetch.Options{MaxBodyBytes: 1 << 20})
	req, _ = http.NewRequest(http.MethodGet, ng.URL(0, "/big"), nil)
	resp, err = small.Open(context.Background(), req)
	require.ErrorIs(t, err, fetch.ErrBodyTooLarge)
	assert.Nil(t, resp)
}

// DenyPrivateNetworks refuses nginx on 127.0.0.1, directly, through the
// Client, and by the name localhost: nginx never sees a request.
func TestNginxDenyPrivateNetworksRefusesLoopback(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"p": "secret"}, "")
	f := newFetcher(t, fetch.Options{DenyPrivateNetworks: true})
	r := f.Get(context.Background(), ng.URL(0, "/p"))
	require.ErrorIs(t, r.Err, fetch.ErrForbiddenAddress)
	assert.Equal(t, fetch.OutcomeForbidden, r.Outcome())

	_, err := f.Client().Get(ng.URL(0, "/p"))
	require.ErrorIs(t, err, fetch.ErrForbiddenAddress)

	r = f.Get(context.Background(), fmt.Sprintf("http://localhost:%d/p", ng.Ports[0]))
	require.ErrorIs(t, r.Err, fetch.ErrForbiddenAddress)

	assert.Empty(t, ng.Mark(t, 0, "/mark-guard"), "nothing reached nginx")
}

// Per-host circuit breaker against a real outage: toxiproxy in front of
// nginx goes down (connections refused), the breaker opens after 3
// failures, and requests then fail at once without reaching the host even
// after it is back; after the cool-down one probe reaches nginx, succeeds,
// and requests flow again.
func TestToxiproxyBreakerOpensWhileDownAndResumesAfterProbe(t *testing.T) {
	t.Parallel()
	ng, proxy, base := behindToxiproxy(t, map[string]string{"p": "up"}, "")
	const coolDown = time.Second
	f := newFetcher(t, fetch.Options{Retry: retry.NoRetry(),
		Breaker: &limit.BreakerOptions{ConsecutiveFailures: 3, CoolDown: coolDown}})

	require.NoError(t, proxy.Disable())
	for range 3 {
		r := f.Get(context.Background(), base+"/p")
		require.Equal(t, fetch.OutcomeNetworkError, r.Outcome(), "%v", r.Err)
	}
	opened := time.Now()
	require.NoError(t, proxy.Enable()) // the host is back; the breaker does not know yet
	for range 5 {
		r := f.Get(context.Background(), base+"/p")
		require.ErrorIs(t, r.Err, fetch.ErrHostUnavailable)
		require.ErrorIs(t, r.Err, limit.ErrBreakerOpen)
		assert.Equal(t, fetch.OutcomeHostUnavailable, r.Outcome())
		assert.Less(t, r.Duration, 100*time.Millisecond, "failed fast")
	}
	assert.Empty(t, ng.Mark(t, 0, "/mark-open"), "nothing reached nginx while the breaker was open")

	time.Sleep(time.Until(opened.Add(coolDown * 13 / 10))) // past the cool-down and its jitter
	r := f.Get(context.Background(), base+"/p")
	require.NoError(t, r.Err, "the half-open probe")
	for range 3 {
		require.NoError(t, f.Get(context.Background(), base+"/p").Err)
	}
	ng.Mark(t, 0, "/mark-closed")
	assert.Len(t, ng.Requests(t, 0, "/p"), 4, "the probe and the requests after it reached nginx")
}

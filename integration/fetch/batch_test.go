package fetchit

// Batches (All and Stream): what a URL waiting out a backoff holds, and
// what a batch's Result.Duration and Wait cover.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// Regression test for issue 10, item 1 (found and reproduced against
// nginx): with Concurrency 64, 64 URLs answered 503 + Retry-After: 2 then
// 200 URLs on another host: the URLs waiting out their backoff must not
// hold the batch's concurrency, so every URL of the other host is sent and
// done before the first retry is due. Decided by order: every B result is
// yielded before any A result, and nginx logged every B request before A's
// first retry.
func TestBatchRetryBackoffDoesNotStallOtherHosts(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"b": "fine"},
		"location / { add_header Retry-After 2 always; return 503; }",
		"")
	f := newFetcher(t, fetch.Options{Concurrency: 64, PerHost: 64,
		Retry: &retry.Policy{Schedule: retry.Schedule{Initial: 10 * time.Millisecond, MaxHint: 10 * time.Second}, MaxAttempts: 2}})
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

// Regression test for issue 10, item 5 (found and reproduced against
// nginx): Result.Duration of a batch's URL runs from the call, so it
// includes the time the URL waited to be dispatched. With PerHost 1 and
// pages taking about 250 ms each, the fourth URL waits for three others;
// its Duration covers at least the time from the call to the moment nginx
// finished serving it.
func TestBatchDurationIncludesTheDispatchWait(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, nil, slowPages(t, 250*time.Millisecond))
	f := newFetcher(t, fetch.Options{PerHost: 1, Retry: retry.NoRetry()})
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

package fetchit

// Single requests (Get, Do): a request that cannot be sent, and the
// request's own context.

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
)

// Regression test for issue 10, item 3 (needs no server): a request that
// cannot be sent (a port out of range, an unsupported scheme, a malformed
// URL) is one permanent outcome, with no attempt and no backoff.
func TestRequestNeverSentIsNotRetried(t *testing.T) {
	t.Parallel()
	var retries atomic.Int64
	f := newFetcher(t, fetch.Options{Retry: &retry.Policy{Schedule: retry.Schedule{Initial: 200 * time.Millisecond}, MaxAttempts: 3, OnRetry: func(int, error, time.Duration) { retries.Add(1) }}})
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

// Regression test for issue 10, item 6 (found and reproduced against
// nginx): Do honours the request's own context: a request whose context is
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

package fetchit

import (
	"context"
	"fmt"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// behindToxiproxy starts nginx serving files and a toxiproxy proxy in front
// of it, and returns them with the proxy's base URL.
func behindToxiproxy(t *testing.T, files map[string]string, block string) (*servers.Nginx, *toxiproxy.Proxy, string) {
	t.Helper()
	tp := servers.StartToxiproxy(t)
	ng := nginxHosts(t, files, block)
	proxy, listen := tp.Proxy(t, "nginx", servers.Addr(ng.Ports[0]))
	return ng, proxy, "http://" + listen
}

// quickRetry makes 3 attempts with short backoffs.
func quickRetry() *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxAttempts: 3}
}

// Latency below the attempt timeout costs time, nothing else.
func TestToxiproxyLatencyWithinAttemptTimeoutSucceeds(t *testing.T) {
	t.Parallel()
	ng, proxy, base := behindToxiproxy(t, map[string]string{"p": "slow but fine"}, "")
	_, err := proxy.AddToxic("latency", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 300})
	require.NoError(t, err)

	f := newFetcher(t, fetch.Options{AttemptTimeout: 5 * time.Second, Retry: retry.NoRetry()})
	r := f.Get(context.Background(), base+"/p")
	require.NoError(t, r.Err)
	assert.Equal(t, "slow but fine", string(r.Body))
	assert.Equal(t, 1, r.Attempts)
	assert.GreaterOrEqual(t, r.Duration, 300*time.Millisecond, "the latency toxic applied")
	assert.Len(t, ng.AccessLogN(t, 1), 1)
}

// A connection that stalls (toxiproxy's timeout toxic drops the data and
// never answers) is the attempt-timeout outcome, and is retried.
func TestToxiproxyStalledConnectionIsAnAttemptTimeoutAndRetried(t *testing.T) {
	t.Parallel()
	ng, proxy, base := behindToxiproxy(t, map[string]string{"p": "never seen"}, "")
	_, err := proxy.AddToxic("stall", "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0})
	require.NoError(t, err)

	f := newFetcher(t, fetch.Options{AttemptTimeout: 400 * time.Millisecond, Retry: quickRetry()})
	r := f.Get(context.Background(), base+"/p")
	require.ErrorIs(t, r.Err, fetch.ErrAttemptTimeout)
	assert.Equal(t, fetch.OutcomeTimeout, r.Outcome())
	assert.Equal(t, 3, r.Attempts, "an attempt timeout is transient: retried")
	assert.GreaterOrEqual(t, r.Duration, 3*400*time.Millisecond)
	assert.EqualValues(t, 1, f.Stats().Timeouts)
	assert.Empty(t, ng.Mark(t, 0, "/mark"), "the stalled requests never reached nginx")
}

// A connection reset by the peer is a network error, and is retried.
func TestToxiproxyResetPeerIsANetworkErrorAndRetried(t *testing.T) {
	t.Parallel()
	_, proxy, base := behindToxiproxy(t, map[string]string{"p": "never seen"}, "")
	_, err := proxy.AddToxic("reset", "reset_peer", "downstream", 1, toxiproxy.Attributes{"timeout": 0})
	require.NoError(t, err)

	f := newFetcher(t, fetch.Options{Retry: quickRetry()})
	r := f.Get(context.Background(), base+"/p")
	require.Error(t, r.Err)
	assert.Equal(t, fetch.OutcomeNetworkError, r.Outcome(), "%v", r.Err)
	assert.Equal(t, 3, r.Attempts, "a reset is transient: retried")
	assert.Nil(t, r.Body)
}

// A body cut short by the connection closing (toxiproxy's limit_data) is an
// error, never a short success: with a Content-Length and with a chunked
// (gzip) body.
func TestToxiproxyCutBodyIsAnErrorNeverAShortSuccess(t *testing.T) {
	t.Parallel()
	page := noisy(200 << 10) // compresses only about 2:1, so gzip's body is still long
	for _, tc := range []struct{ name, block string }{
		{"content-length", ""},
		{"chunked-gzip", "gzip on; gzip_types text/plain; gzip_min_length 0;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ng, proxy, base := behindToxiproxy(t, map[string]string{"page.txt": page}, tc.block)
			_, err := proxy.AddToxic("cut", "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": 2000})
			require.NoError(t, err)

			f := newFetcher(t, fetch.Options{Retry: quickRetry()})
			r := f.Get(context.Background(), base+"/page.txt")
			require.Error(t, r.Err, "a cut body must not be a success")
			assert.Nil(t, r.Body)
			assert.Equal(t, fetch.OutcomeNetworkError, r.Outcome(), "%v", r.Err)
			assert.Equal(t, 3, r.Attempts, "a cut body is transient: retried")
			if tc.name == "content-length" {
				assert.Equal(t, 200, r.Status, "the headers arrived")
			}

			// Without the toxic the same URL is whole.
			require.NoError(t, proxy.RemoveToxic("cut"))
			r = f.Get(context.Background(), base+"/page.txt")
			require.NoError(t, r.Err)
			assert.Equal(t, page, string(r.Body))
			_ = ng
		})
	}
}

// A response sliced into small, delayed TCP segments is reassembled.
func TestToxiproxySlicedResponseIsReassembled(t *testing.T) {
	t.Parallel()
	page := text(64 << 10)
	_, proxy, base := behindToxiproxy(t, map[string]string{"page.txt": page}, "")
	_, err := proxy.AddToxic("slicer", "slicer", "downstream", 1,
		toxiproxy.Attributes{"average_size": 256, "size_variation": 128, "delay": 100})
	require.NoError(t, err)

	f := newFetcher(t, fetch.Options{Retry: retry.NoRetry()})
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/page.txt?i=%d", base, i)
	}
	for _, r := range f.All(context.Background(), urls) {
		require.NoError(t, r.Err)
		assert.Equal(t, page, string(r.Body))
		assert.Equal(t, 1, r.Attempts)
	}
}

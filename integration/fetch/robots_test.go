package fetchit

// robots.txt politeness against nginx.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// Regression test for issue 10, item 4 (found and reproduced against
// nginx): a robots.txt that cannot be fetched (answered 500, or the
// connection refused) keeps the host disallowed, but is reported as
// "robots.txt unavailable", not as robots.txt disallowing the URL; the page
// itself is never requested.
func TestRobotsUnavailableIsNotReportedAsDisallowed(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"p": "page"}, "location = /robots.txt { return 500; }")
	refused := servers.Addr(servers.FreePorts(t, 1)[0])
	f := newFetcher(t, fetch.Options{Robots: true, Retry: retry.NoRetry()})
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

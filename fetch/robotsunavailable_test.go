package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

// A redirect hop to a host whose robots.txt is unavailable ends the Result
// as robots.txt unavailable, not retried.
func TestRedirectToHostWithRobotsUnavailable(t *testing.T) {
	var pages atomic.Int64
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		pages.Add(1)
	})
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target.URL+"/page", http.StatusFound)
	})
	f := newFetcher(t, Options{Robots: true, Retry: fastRetry(3)})
	r := f.Get(context.Background(), origin.URL+"/go")
	require.ErrorIs(t, r.Err, ErrRobotsUnavailable)
	assert.Equal(t, OutcomeRobotsUnavailable, r.Outcome())
	assert.Equal(t, 1, r.Attempts)
	assert.Zero(t, pages.Load())
}

package fetch

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Options.AttemptTimeout bounds the whole attempt; the default transport
// must not cut the wait for headers shorter than that (it used
// min(AttemptTimeout, 30s)).
func TestDefaultTransportHeaderTimeoutNotShorterThanAttemptTimeout(t *testing.T) {
	f := newFetcher(t, Options{AttemptTimeout: 2 * time.Minute})
	assert.Equal(t, 2*time.Minute, f.transport.ResponseHeaderTimeout)
	f = newFetcher(t, Options{AttemptTimeout: time.Second})
	assert.Equal(t, time.Second, f.transport.ResponseHeaderTimeout)
}

// A server that never answers is cut off by AttemptTimeout.
func TestStalledServerTimesOut(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	f := newFetcher(t, Options{AttemptTimeout: 30 * time.Millisecond, Retry: fastRetry(2)})
	start := time.Now()
	res := f.Get(context.Background(), srv.URL)
	require.ErrorIs(t, res.Err, ErrAttemptTimeout)
	assert.Equal(t, 2, res.Attempts, "a timeout is transient")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, int64(1), f.Stats().Timeouts)
}

// A body that trickles and then stalls is cut off by the same AttemptTimeout.
func TestSlowBodyTimesOut(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	f := newFetcher(t, Options{AttemptTimeout: 30 * time.Millisecond, Retry: retry.NoRetry()})
	res := f.Get(context.Background(), srv.URL)
	require.ErrorIs(t, res.Err, ErrAttemptTimeout)
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Nil(t, res.Body, "no partial body is returned")
}

package fetch

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// A server that resets the connection (RST via SetLinger(0)) is a
// transient network error: retried, then reported as such.
func TestConnectionResetIsRetriedNetworkError(t *testing.T) {
	addr, accepts := rawServer(t, func(c net.Conn) {
		readRequestHead(c)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	res := f.Get(context.Background(), addr+"/reset")
	require.Error(t, res.Err)
	assert.True(t, isNetworkError(res.Err), "%v", res.Err)
	assert.ErrorIs(t, res.Err, retry.ErrExhausted)
	assert.Equal(t, 3, res.Attempts)
	assert.GreaterOrEqual(t, accepts.Load(), int64(3))
	assert.Equal(t, int64(1), f.Stats().NetworkErrors)
}

func TestConnectionRefusedIsNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFetcher(t, Options{Retry: fastRetry(2)})
	res := f.Get(context.Background(), "http://"+addr+"/")
	require.Error(t, res.Err)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, int64(1), f.Stats().NetworkErrors)
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
	f := newFetcher(t, Options{AttemptTimeout: 30 * time.Millisecond, Retry: NoRetry()})
	res := f.Get(context.Background(), srv.URL)
	require.ErrorIs(t, res.Err, ErrAttemptTimeout)
	assert.Equal(t, http.StatusOK, res.Status)
	assert.Nil(t, res.Body, "no partial body is returned")
}

// A body over MaxBodyBytes is an error, never silently truncated (colly).
func TestOversizedBodyIsErrorNotTruncated_colly(t *testing.T) {
	const limit = 1000
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := 2000
		if r.URL.Path == "/exact" || r.URL.Path == "/exact-chunked" {
			n = limit
		}
		if !strings.HasSuffix(r.URL.Path, "chunked") {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		} else {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		_, _ = io.WriteString(w, strings.Repeat("x", n))
	})
	f := newFetcher(t, Options{MaxBodyBytes: limit, Retry: fastRetry(3)})
	for _, path := range []string{"/big", "/big-chunked"} {
		res := f.Get(context.Background(), srv.URL+path)
		require.ErrorIs(t, res.Err, ErrBodyTooLarge, path)
		assert.Nil(t, res.Body, path)
		assert.Equal(t, 1, res.Attempts, "not retried: %s", path)
	}
	for _, path := range []string{"/exact", "/exact-chunked"} {
		res := f.Get(context.Background(), srv.URL+path)
		require.NoError(t, res.Err, path)
		assert.Len(t, res.Body, limit, path)
	}
	assert.Equal(t, int64(2), f.Stats().TooLarge)
}

func TestHeadHasNoBody(t *testing.T) {
	srv := newServer(t, okHandler("hello"))
	f := newFetcher(t, Options{})
	req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
	res := f.Do(context.Background(), req)
	require.NoError(t, res.Err)
	assert.Empty(t, res.Body)
	assert.Equal(t, "5", res.Header.Get("Content-Length"))
}

// A 429 asking for an hour is capped by MaxHint against a real server, and
// a Retry-After date in the past means "retry now".
func TestHugeRetryAfterCappedOnRealServer(t *testing.T) {
	for _, header := range []string{"3600", time.Now().Add(time.Hour).UTC().Format(time.RFC850), "Sun, 06 Nov 1994 08:49:37 GMT"} {
		var n atomic.Int64
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				w.Header().Set("Retry-After", header)
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		f := newFetcher(t, Options{Retry: &retry.Policy{MaxAttempts: 2, Initial: time.Millisecond, MaxHint: 20 * time.Millisecond}})
		start := time.Now()
		res := f.Get(context.Background(), srv.URL)
		require.NoError(t, res.Err, header)
		assert.Equal(t, 2, res.Attempts)
		assert.Less(t, time.Since(start), time.Second, header)
	}
}

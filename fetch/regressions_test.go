package fetch

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// When ctx ends while a retry waits for its slot or rate token (not during
// the backoff itself), the last attempt's status and error are not lost.
func TestContextEndingWhileRetryWaitsForRateKeepsLastStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "busy"), nil
		})
		// The backoff is 1ms, but the next token of the host comes in an hour.
		f := newFetcher(t, Options{Client: client, MinDelay: time.Hour,
			Retry: &retry.Policy{MaxAttempts: 3, Initial: time.Millisecond, Jitter: retry.JitterNone}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() { done <- f.Get(ctx, "http://h/") }()
		time.Sleep(time.Minute) // past the 1ms backoff: the retry waits for the rate token
		cancel()
		res := <-done
		require.ErrorIs(t, res.Err, context.Canceled)
		var se *StatusError
		require.ErrorAs(t, res.Err, &se, "the last attempt's error survives")
		assert.Equal(t, http.StatusServiceUnavailable, se.Status)
		assert.Equal(t, http.StatusServiceUnavailable, res.Status, "Status is the last response's")
		assert.Equal(t, 1, res.Attempts)
		assert.Equal(t, int64(1), f.Stats().Canceled)
	})
}

// Stats.Retries counts retries that were sent, so that Attempts ==
// Requests-with-an-attempt + Retries; a retry cancelled during its backoff
// is not one.
func TestStatsRetriesCountsOnlyRetriesSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "60"), nil
		})
		f := newFetcher(t, Options{Client: client, Retry: &retry.Policy{MaxAttempts: 3, MaxHint: time.Hour}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res := f.Get(ctx, "http://h/")
		require.ErrorIs(t, res.Err, context.DeadlineExceeded)
		st := f.Stats()
		assert.Equal(t, int64(1), st.Attempts)
		assert.Zero(t, st.Retries, "the retry was never sent")
	})
}

// A robots.txt fetch that times out disallows the host for RobotsErrorTTL
// as a timeout: counted as RobotsUnavailable, not as the caller's
// cancellation.
func TestRobotsTimeoutIsUnavailableNotCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return fakeResponse(r, http.StatusOK, "page"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, AttemptTimeout: time.Second})
		res := f.Get(context.Background(), "http://h/page")
		require.ErrorIs(t, res.Err, ErrRobotsUnavailable)
		assert.ErrorIs(t, res.Err, ErrAttemptTimeout)
		st := f.Stats()
		assert.Equal(t, int64(1), st.RobotsUnavailable)
		assert.Zero(t, st.Canceled)
	})
}

// A caller whose deadline is too short for the host's rate limit must not
// get the host's robots.txt cached as unavailable for everybody else.
func TestRobotsRateWaitPastCallerDeadlineIsNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var robotsCalls int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/robots.txt" {
				robotsCalls++
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, MinDelay: 10 * time.Minute,
			RobotsTTL: time.Minute, RobotsErrorTTL: time.Minute})
		require.NoError(t, f.Get(context.Background(), "http://h/a").Err) // robots at 0, page at 10m
		time.Sleep(2 * time.Minute)                                       // robots.txt expired; next token at 20m

		short, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res := f.Get(short, "http://h/b")
		require.Error(t, res.Err)
		assert.NotErrorIs(t, res.Err, ErrDisallowed)

		res = f.Get(context.Background(), "http://h/c")
		require.NoError(t, res.Err, "the short caller's failure was not cached")
		assert.Equal(t, 2, robotsCalls)
	})
}

// "no such host" is not transient: it is not retried.
func TestUnknownHostIsNotRetried(t *testing.T) {
	var dials int
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.DNSError{Err: "no such host", Name: "nosuch.invalid", IsNotFound: true}}
	}}
	f := newFetcher(t, Options{Client: &http.Client{Transport: tr}, Retry: fastRetry(3)})
	res := f.Get(context.Background(), "http://nosuch.invalid/")
	var dns *net.DNSError
	require.ErrorAs(t, res.Err, &dns)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, 1, dials)

	// A DNS timeout is transient.
	dials = 0
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.DNSError{Err: "timeout", Name: "slow.invalid", IsTimeout: true}}
	}
	res = f.Get(context.Background(), "http://slow.invalid/")
	require.Error(t, res.Err)
	assert.Equal(t, 3, res.Attempts)
}

// Options.AttemptTimeout bounds the whole attempt; the default transport
// must not cut the wait for headers shorter than that (it used
// min(AttemptTimeout, 30s)).
func TestDefaultTransportHeaderTimeoutNotShorterThanAttemptTimeout(t *testing.T) {
	f := newFetcher(t, Options{AttemptTimeout: 2 * time.Minute})
	assert.Equal(t, 2*time.Minute, f.transport.ResponseHeaderTimeout)
	f = newFetcher(t, Options{AttemptTimeout: time.Second})
	assert.Equal(t, time.Second, f.transport.ResponseHeaderTimeout)
}

// Result.OK works on the value Get returns (a pointer receiver made
// f.Get(ctx, u).OK() a compile error).
func TestResultOKOnReturnedValue(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	f := newFetcher(t, Options{})
	assert.True(t, f.Get(context.Background(), srv.URL).OK())
	assert.False(t, f.Get(context.Background(), "ftp://x/").OK())
	assert.False(t, Result{Err: errors.New("x")}.OK())
}

// The adaptive cap grows on responses only: refused connections (and the
// caller's cancellations) say nothing about the host's capacity.
func TestAdaptiveCapDoesNotGrowWithoutResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFetcher(t, Options{Retry: NoRetry(), Adaptive: &limit.AIMDOptions{Min: 1, Initial: 2, Max: 8, Window: 1}})
	for range 10 {
		require.Error(t, f.Get(context.Background(), "http://"+addr+"/").Err)
	}
	assert.Equal(t, int64(2), f.hosts.Limit(addr))
}

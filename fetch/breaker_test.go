package fetch

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// A host that fails, then recovers, on the fake clock: after 3 failures its
// breaker opens and requests stop reaching it (they fail at once with
// ErrHostUnavailable); after the cool-down one probe goes through, succeeds,
// and requests flow again.
func TestBreakerStopsSendingWhileOpenAndResumesAfterHalfOpenSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		var down atomic.Bool
		down.Store(true)
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			hits.Add(1)
			if down.Load() {
				return fakeResponse(r, http.StatusServiceUnavailable, "down"), nil
			}
			return fakeResponse(r, http.StatusOK, "up"), nil
		})
		var changes []string
		f := newFetcher(t, Options{Client: client, Retry: retry.NoRetry(), Breaker: &limit.BreakerOptions{
			ConsecutiveFailures: 3, CoolDown: 10 * time.Second,
			OnKeyStateChange: func(key any, from, to limit.BreakerState) {
				changes = append(changes, key.(string)+": "+from.String()+" -> "+to.String())
			},
		}})
		for range 3 {
			r := f.Get(context.Background(), "http://h/")
			assert.Equal(t, OutcomeStatusError, r.Outcome())
		}
		assert.Equal(t, int64(3), hits.Load())
		assert.Equal(t, limit.BreakerOpen, f.breakers.State("h:80"))

		start := time.Now()
		for range 5 {
			r := f.Get(context.Background(), "http://h/")
			require.ErrorIs(t, r.Err, ErrHostUnavailable)
			require.ErrorIs(t, r.Err, limit.ErrBreakerOpen)
			assert.Equal(t, OutcomeHostUnavailable, r.Outcome())
			assert.Zero(t, r.Attempts)
		}
		assert.Equal(t, start, time.Now(), "failed fast: no time passed")
		assert.Equal(t, int64(3), hits.Load(), "nothing reached the host while open")
		assert.Equal(t, int64(5), f.Stats().HostUnavailable)

		down.Store(false) // the host recovers; the breaker does not know yet
		time.Sleep(5 * time.Second)
		r := f.Get(context.Background(), "http://h/")
		require.ErrorIs(t, r.Err, ErrHostUnavailable, "still cooling down")
		assert.Equal(t, int64(3), hits.Load())

		time.Sleep(8 * time.Second) // past the cool-down, jitter included (<= 12s)
		r = f.Get(context.Background(), "http://h/")
		require.NoError(t, r.Err, "the half-open probe goes through")
		assert.Equal(t, int64(4), hits.Load())
		assert.Equal(t, limit.BreakerClosed, f.breakers.State("h:80"))
		for range 3 {
			require.NoError(t, f.Get(context.Background(), "http://h/").Err)
		}
		assert.Equal(t, int64(7), hits.Load(), "requests flow again")
		assert.Equal(t, []string{"h:80: closed -> open", "h:80: open -> half-open", "h:80: half-open -> closed"}, changes)
	})
}

// A failed half-open probe opens the breaker again, for a new cool-down.
func TestBreakerFailedProbeReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			hits.Add(1)
			return fakeResponse(r, http.StatusTooManyRequests, ""), nil
		})
		f := newFetcher(t, Options{Client: client, Retry: retry.NoRetry(),
			Breaker: &limit.BreakerOptions{ConsecutiveFailures: 2, CoolDown: time.Second}})
		f.Get(context.Background(), "http://h/")
		f.Get(context.Background(), "http://h/")
		require.ErrorIs(t, f.Get(context.Background(), "http://h/").Err, ErrHostUnavailable, "429s count as failures")
		time.Sleep(2 * time.Second)
		assert.Equal(t, OutcomeStatusError, f.Get(context.Background(), "http://h/").Outcome(), "the probe is sent")
		assert.Equal(t, int64(3), hits.Load())
		require.ErrorIs(t, f.Get(context.Background(), "http://h/").Err, ErrHostUnavailable, "and failed: open again")
		assert.Equal(t, int64(3), hits.Load())
	})
}

// A request does not spend its retries on a host whose breaker opened
// under it: its next retry is refused, unsent, and the Result keeps the
// last response's error too.
func TestBreakerOpenDoesNotSpendRetries(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	f := newFetcher(t, Options{Retry: fastRetry(6), Breaker: &limit.BreakerOptions{ConsecutiveFailures: 2, CoolDown: time.Hour}})
	r := f.Get(context.Background(), srv.URL)
	require.ErrorIs(t, r.Err, ErrHostUnavailable)
	var se *StatusError
	require.ErrorAs(t, r.Err, &se, "the last response's error is kept")
	assert.Equal(t, http.StatusInternalServerError, se.Status)
	assert.Equal(t, OutcomeHostUnavailable, r.Outcome())
	assert.Equal(t, 2, r.Attempts, "2 of 6 attempts sent")
	assert.Equal(t, int64(2), srv.requests.Load())
}

// Network errors count as failures, and the breaker is per host: another
// host is unaffected. The Transport fails fast too.
func TestBreakerNetworkErrorsTripOnlyThatHost(t *testing.T) {
	reset, _ := rawServer(t, func(c net.Conn) {
		readRequestHead(c)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST
		}
	})
	good := newServer(t, okHandler("fine"))
	f := newFetcher(t, Options{Retry: retry.NoRetry(), Breaker: &limit.BreakerOptions{ConsecutiveFailures: 2, CoolDown: time.Hour}})
	for range 2 {
		assert.Equal(t, OutcomeNetworkError, f.Get(context.Background(), reset+"/").Outcome())
	}
	require.ErrorIs(t, f.Get(context.Background(), reset+"/").Err, ErrHostUnavailable)
	_, err := f.Client().Get(reset + "/")
	require.ErrorIs(t, err, ErrHostUnavailable)
	require.NoError(t, f.Get(context.Background(), good.URL).Err, "another host is unaffected")
}

// 4xx other than 429, and a canceled caller, do not trip the breaker.
func TestBreakerIgnoresClientErrorsAndCancellation(t *testing.T) {
	notFound := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	f := newFetcher(t, Options{Retry: retry.NoRetry(), Breaker: &limit.BreakerOptions{ConsecutiveFailures: 2, CoolDown: time.Hour}})
	for range 5 {
		assert.Equal(t, OutcomeStatusError, f.Get(context.Background(), notFound.URL).Outcome())
	}
	assert.Equal(t, int64(5), notFound.requests.Load(), "404s are answers: the breaker stays closed")

	stall := make(chan struct{})
	defer close(stall)
	slow := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		r := f.Get(ctx, slow.URL)
		cancel()
		assert.Equal(t, OutcomeCanceled, r.Outcome())
	}
	assert.Equal(t, limit.BreakerClosed, f.breakers.State(keyOf(t, slow.URL)), "the caller's cancellations say nothing of the host")
}

// New reports bad breaker options as ErrInvalidOptions.
func TestBreakerInvalidOptions(t *testing.T) {
	_, err := New(Options{Breaker: &limit.BreakerOptions{FailureRate: 2}})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = New(Options{Breaker: &limit.BreakerOptions{OnStateChange: func(_, _ limit.BreakerState) {}}})
	require.ErrorIs(t, err, ErrInvalidOptions)
}

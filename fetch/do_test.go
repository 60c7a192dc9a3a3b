package fetch

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 10 item 6: Do ignored req.Context(); a request whose context was
// already canceled was sent and succeeded. Now nothing is sent.
func TestDoWithCanceledRequestContextSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			sent++
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://h/", nil)
		require.NoError(t, err)
		r := f.Do(context.Background(), req)
		require.ErrorIs(t, r.Err, context.Canceled)
		assert.Equal(t, OutcomeCanceled, r.Outcome())
		assert.Zero(t, r.Attempts)
		assert.Zero(t, sent, "nothing sent, not even robots.txt")
	})
}

// The request's own deadline ends the call during an attempt, with
// context.DeadlineExceeded (the caller's deadline, OutcomeCanceled, not an
// attempt timeout); so does its cancellation during a wait for a slot.
func TestDoEndsWithTheRequestsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			if strings.HasPrefix(r.URL.Path, "/stall") {
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, PerHost: 1, AttemptTimeout: time.Minute, Retry: fastRetry(3)})

		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://h/stall", nil)
		require.NoError(t, err)
		start := time.Now()
		r := f.Do(context.Background(), req)
		require.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.NotErrorIs(t, r.Err, ErrAttemptTimeout)
		assert.Equal(t, OutcomeCanceled, r.Outcome())
		assert.Equal(t, time.Second, time.Since(start))
		assert.Equal(t, 1, r.Attempts, "not retried")

		// One request holds h's only slot; another, canceled by its own
		// context while waiting for it, ends then.
		hold, release := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() {
			req, _ := http.NewRequestWithContext(hold, http.MethodGet, "http://h/stall-hold", nil)
			done <- f.Do(context.Background(), req)
		}()
		synctest.Wait()
		wctx, wcancel := context.WithCancel(context.Background())
		req, err = http.NewRequestWithContext(wctx, http.MethodGet, "http://h/ok", nil)
		require.NoError(t, err)
		go func() { time.Sleep(time.Second); wcancel() }()
		r = f.Do(context.Background(), req)
		require.ErrorIs(t, r.Err, context.Canceled)
		assert.Zero(t, r.Attempts)
		release()
		<-done
	})
}

// The caller's ctx still ends the call when the request has its own.
func TestDoEndsWithTheCallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		f := newFetcher(t, Options{Client: client, Retry: retry.NoRetry()})
		rctx, rcancel := context.WithTimeout(context.Background(), time.Hour)
		defer rcancel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://h/", nil)
		require.NoError(t, err)
		start := time.Now()
		r := f.Do(ctx, req)
		require.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
	})
}

// A request with context.Background() costs no extra allocation.
func TestWithRequestContextBackgroundAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		c, cancel := withRequestContext(ctx, context.Background())
		cancel()
		_ = c
	})
	assert.Zero(t, allocs)
}

package sse

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
)

var fastBackoff = retry.Schedule{Initial: time.Millisecond, Max: 5 * time.Millisecond}

func TestClientResumesWithLastEventIDNoLossNoDuplicates_gosse(t *testing.T) {
	const total, perConn = 10, 3
	var log headerLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		from := 0
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			var err error
			from, err = strconv.Atoi(v)
			if !assert.NoError(t, err) {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		streamHeaders(w)
		for i := from + 1; i <= min(from+perConn, total); i++ {
			fmt.Fprintf(w, ": keep-alive\nid: %d\nevent: n\ndata: event %d\n\n", i, i)
		}
		// Then the server drops the connection.
	}))
	defer srv.Close()

	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	err = c.Run(ctx, func(_ context.Context, ev Event) error {
		got = append(got, ev.ID+"="+ev.Data)
		if len(got) == total {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	var want []string
	for i := 1; i <= total; i++ {
		want = append(want, fmt.Sprintf("%d=event %d", i, i))
	}
	assert.Equal(t, want, got)
	assert.Equal(t, []string{"<none>", "3", "6", "9"}, log.get()[:4])
}

func TestClientKeepsSeededLastEventIDOnRetry_gosse(t *testing.T) {
	var log headerLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if log.add(r) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first attempt fails
			return
		}
		streamHeaders(w)
		fmt.Fprint(w, "data: resumed\n\n")
	}))
	defer srv.Close()

	c, err := stream.New[Event](&Dialer{URL: srv.URL, LastEventID: "seed-7"}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(t.Context(), func(_ context.Context, ev Event) error {
		assert.Equal(t, Event{ID: "seed-7", Data: "resumed"}, ev)
		return errStop
	})
	require.ErrorIs(t, err, errStop)
	assert.Equal(t, []string{"seed-7", "seed-7"}, log.get())
}

var errStop = fmt.Errorf("test: stop")

func TestClientWaitsServerRetryField_r3labs(t *testing.T) {
	var (
		mu    sync.Mutex
		times []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		streamHeaders(w)
		fmt.Fprint(w, "retry: 150\ndata: x\n\n")
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var n atomic.Int64
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(ctx, func(context.Context, Event) error {
		if n.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, times, 3)
	for i := 1; i < len(times); i++ {
		gap := times[i].Sub(times[i-1])
		assert.GreaterOrEqual(t, gap, 140*time.Millisecond, "reconnected after %v despite retry: 150", gap)
	}
}

func TestClientStopsOnNoContent(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(t.Context(), func(context.Context, Event) error { return nil })
	require.ErrorIs(t, err, ErrNoContent)
	assert.Equal(t, int64(1), hits.Load())
}

func TestClientStopsOnNotFound(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer srv.Close()
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(t.Context(), func(context.Context, Event) error { return nil })
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusNotFound, se.Status)
	assert.True(t, retry.IsPermanent(err))
	assert.Equal(t, int64(1), hits.Load())
}

func TestClientRetries5xx_gosse(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch hits.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			streamHeaders(w)
			fmt.Fprint(w, "data: up\n\n")
		}
	}))
	defer srv.Close()
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(t.Context(), func(_ context.Context, ev Event) error {
		assert.Equal(t, "up", ev.Data)
		return errStop
	})
	require.ErrorIs(t, err, errStop)
	assert.Equal(t, int64(4), hits.Load())
}

func TestClientIdleTimeoutDetectsSilentServer(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		streamHeaders(w)
		<-r.Context().Done() // headers, then silence
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{
		Backoff:     fastBackoff,
		IdleTimeout: 30 * time.Millisecond,
		OnState: func(e stream.StateEvent) {
			if e.State == stream.StateDisconnected && ctx.Err() == nil {
				assert.ErrorIs(t, e.Err, stream.ErrIdleTimeout)
				if hits.Load() >= 2 {
					cancel()
				}
			}
		},
	})
	require.NoError(t, err)
	err = c.Run(ctx, func(context.Context, Event) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.GreaterOrEqual(t, hits.Load(), int64(2))
}

// A server that set retry: and then went silent is closed by the Client's
// IdleTimeout; the reconnection must still wait the server's delay, not the
// (much shorter) backoff — r3labs ignored retry:.
func TestClientKeepsServerRetryAfterIdleTimeout_r3labs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		fmt.Fprint(w, "retry: 5000\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var disc []stream.StateEvent
	c, err := stream.New[Event](&Dialer{URL: srv.URL}, stream.Options[Event]{
		Backoff:     fastBackoff,
		Heartbeat:   -1,
		IdleTimeout: 30 * time.Millisecond,
		OnState: func(e stream.StateEvent) {
			if e.State == stream.StateDisconnected && ctx.Err() == nil {
				disc = append(disc, e)
				cancel()
			}
		},
	})
	require.NoError(t, err)
	err = c.Run(ctx, func(context.Context, Event) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, disc, 1)
	assert.ErrorIs(t, disc[0].Err, stream.ErrIdleTimeout)
	assert.GreaterOrEqual(t, disc[0].Delay, 5*time.Second, "retry: 5000 ignored after an idle timeout")
}

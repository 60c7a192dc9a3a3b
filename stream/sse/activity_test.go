package sse

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/pipenet"
)

// stateLog records a Client's state events.
type stateLog struct {
	mu  sync.Mutex
	evs []stream.StateEvent
	at  []time.Time
}

func (l *stateLog) add(e stream.StateEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	l.at = append(l.at, time.Now())
}

// disconnects returns the disconnect events and when they happened.
func (l *stateLog) disconnects() (evs []stream.StateEvent, at []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.evs {
		if e.State == stream.StateDisconnected {
			evs, at = append(evs, e), append(at, l.at[i])
		}
	}
	return evs, at
}

// keepAliveHandler is an SSE server in the style of better-sse: a retry
// field first, then a ":" comment every keepAlive, and the events sent on
// push.
func keepAliveHandler(keepAlive time.Duration, push <-chan string, requests *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		streamHeaders(w)
		fmt.Fprint(w, "retry: 2000\n\n")
		w.(http.Flusher).Flush()
		tick := time.NewTicker(keepAlive)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				fmt.Fprint(w, ":\n\n")
			case data := <-push:
				fmt.Fprintf(w, "id: 1\ndata: %s\n\n", data)
			}
			w.(http.Flusher).Flush()
		}
	}
}

// Issue 10 item 7: following these docs (IdleTimeout above the server's
// keep-alive interval) put a quiet stream into a reconnect loop, because
// comments did not count as traffic: better-sse with a 300ms keep-alive and
// IdleTimeout 1s gave 7 idle disconnects in 8s, and an event pushed at 3s
// was never delivered. Now: one connection for ten minutes, and the event
// arrives.
func TestKeepAliveCommentsKeepQuietStreamConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		push := make(chan string)
		var requests atomic.Int32
		srv := pipenet.NewServer(keepAliveHandler(300*time.Millisecond, push, &requests))
		defer srv.Close()
		var log stateLog
		c, err := stream.New[Event](&Dialer{URL: "http://sse.test/events", Client: srv.Client()},
			stream.Options[Event]{IdleTimeout: time.Second, OnState: log.add, Backoff: fastBackoff})
		require.NoError(t, err)
		var got []Event
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() {
			done <- c.Run(ctx, func(_ context.Context, ev Event) error {
				got = append(got, ev)
				return nil
			})
		}()
		time.Sleep(3 * time.Second)
		push <- "pushed at 3s"
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		require.Len(t, got, 1)
		assert.Equal(t, Event{ID: "1", Data: "pushed at 3s", Retry: 2 * time.Second}, got[0])
		evs, _ := log.disconnects()
		assert.Zero(t, len(evs), "idle disconnects on a stream kept alive by comments")
		assert.Equal(t, int32(1), requests.Load())
		assert.Equal(t, int64(1), c.Stats().Dials)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

// Bytes count when they arrive, also as parts of an event: a data line
// written a byte at a time every 300ms keeps the stream up with IdleTimeout
// 1s. When they stop, mid-event, the stream is dead exactly IdleTimeout
// after the last byte.
func TestPartialEventCountsUntilBytesStopThenIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lastByte atomic.Int64 // UnixNano of the last byte written
		release := make(chan struct{})
		srv := pipenet.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			streamHeaders(w)
			w.(http.Flusher).Flush()
			for _, b := range []byte("data: slow\n\ndata: never ends") {
				time.Sleep(300 * time.Millisecond)
				w.Write([]byte{b})
				w.(http.Flusher).Flush()
				lastByte.Store(time.Now().UnixNano())
			}
			select { // then silence, with the connection open
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		var log stateLog
		c, err := stream.New[Event](&Dialer{URL: "http://sse.test/events", Client: srv.Client()},
			stream.Options[Event]{IdleTimeout: time.Second, OnState: log.add, MaxFailures: 1})
		require.NoError(t, err)
		var got []string
		err = c.Run(t.Context(), func(_ context.Context, ev Event) error {
			got = append(got, ev.Data)
			return nil
		})
		require.ErrorIs(t, err, stream.ErrMaxFailures)
		assert.ErrorIs(t, err, stream.ErrIdleTimeout)
		assert.Equal(t, []string{"slow"}, got)
		evs, at := log.disconnects()
		require.Len(t, evs, 1)
		assert.Equal(t, time.Unix(0, lastByte.Load()).Add(time.Second), at[0].Round(0), "dead IdleTimeout after the last byte")
	})
}

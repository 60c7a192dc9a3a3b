package websocket

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/internal/pipenet"
)

// disconnectLog records the reasons of a Client's disconnects.
type disconnectLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *disconnectLog) add(e stream.StateEvent) {
	if e.State != stream.StateDisconnected {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, e.Err)
}

func (l *disconnectLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// pipeWS serves WebSocket connections to handler over a pipenet.Server and
// returns a Dialer for it, and the server to close before the bubble's
// function returns. handler runs on the server's goroutine and must return
// when ctx ends, which it does when the server closes.
func pipeWS(handler func(ctx context.Context, ws *websocket.Conn)) (*Dialer, *pipenet.Server) {
	var srv *pipenet.Server
	srv = pipenet.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		// A hijacked connection's request context does not end with the
		// connection or the server: end it when the server closes.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-srv.Done():
				cancel()
			case <-ctx.Done():
			}
		}()
		handler(ctx, ws)
	}))
	return &Dialer{URL: "ws://ws.test/", HTTPClient: srv.Client()}, srv
}

// Issue 10 item 7, on WebSocket: bytes that are no message (here the
// server's pings, as Node ws servers send them) count as traffic. With
// IdleTimeout 1s and no pings of the client's own, a server pinging every
// 300ms keeps one connection up for ten minutes, and a message sent at 3s
// arrives on it.
func TestServerPingsKeepQuietConnectionAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var conns atomic.Int32
		d, srv := pipeWS(func(ctx context.Context, ws *websocket.Conn) {
			conns.Add(1)
			ctx = ws.CloseRead(ctx) // reads, so that the client's pongs are seen
			start := time.Now()
			sent := false
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if err := ws.Ping(ctx); err != nil {
					return
				}
				if !sent && time.Since(start) >= 3*time.Second {
					sent = true
					if err := ws.Write(ctx, websocket.MessageText, []byte("sent at 3s")); err != nil {
						return
					}
				}
			}
		})
		defer srv.Close()
		var log disconnectLog
		c, err := stream.New[Message](d, stream.Options[Message]{
			Heartbeat: -1, IdleTimeout: time.Second, OnState: log.add, Backoff: fastBackoff,
		})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		var got []string
		go func() {
			done <- c.Run(ctx, func(_ context.Context, m Message) error {
				got = append(got, string(m.Data))
				return nil
			})
		}()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		assert.Equal(t, []string{"sent at 3s"}, got)
		assert.Zero(t, len(log.all()), "idle disconnects on a connection kept alive by pings: %v", log.all())
		assert.Equal(t, int32(1), conns.Load())
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	})
}

// Issue 10 item 8: when a heartbeat ping was waiting for its pong as the
// server's close frame arrived, the failed ping ("use of closed network
// connection") was recorded as ErrPingTimeout. Here the server never
// answers pings and closes with 1001 at the very instant of the client's
// heartbeat, or a little later, on many connections: every disconnect is
// the server's close, none a ping timeout.
func TestCleanCloseAtHeartbeatIsNotReportedAsPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const heartbeat, conns = time.Second, 16
		delays := []time.Duration{0, 0, time.Millisecond, 0, 2 * time.Millisecond, 0, 5 * time.Millisecond, 0}
		var n atomic.Int32
		d, srv := pipeWS(func(ctx context.Context, ws *websocket.Conn) {
			i := int(n.Add(1)) - 1
			select { // no reads: the client's pings go unanswered
			case <-ctx.Done():
				return
			case <-time.After(heartbeat + delays[i%len(delays)]):
			}
			_ = ws.Close(websocket.StatusGoingAway, "bye")
		})
		defer srv.Close()
		var log disconnectLog
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		c, err := stream.New[Message](d, stream.Options[Message]{
			Heartbeat: heartbeat, PingTimeout: 5 * time.Second, Backoff: fastBackoff,
			OnState: func(e stream.StateEvent) {
				log.add(e)
				if len(log.all()) == conns {
					cancel()
				}
			},
		})
		require.NoError(t, err)
		require.ErrorIs(t, c.Run(ctx, func(context.Context, Message) error { return nil }), context.Canceled)
		errs := log.all()
		require.GreaterOrEqual(t, len(errs), conns)
		for i, err := range errs[:conns] {
			assert.NotErrorIs(t, err, stream.ErrPingTimeout, "disconnect %d was the server's close", i+1)
			assert.Equal(t, websocket.StatusGoingAway, websocket.CloseStatus(err), "disconnect %d: %v", i+1, err)
		}
	})
}

// Issue 10 item 9: a ping-timeout disconnect matched
// context.DeadlineExceeded. Against a server that never answers pings,
// every disconnect is a ping timeout that matches no context error; the
// caller's own deadline is DeadlineExceeded.
func TestPingTimeoutDoesNotMatchDeadlineExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, srv := pipeWS(func(ctx context.Context, _ *websocket.Conn) { <-ctx.Done() })
		defer srv.Close()
		var log disconnectLog
		o := stream.Options[Message]{
			Heartbeat: time.Second, PingTimeout: 500 * time.Millisecond, Backoff: fastBackoff,
			OnState: log.add, MaxFailures: 3,
		}
		c, err := stream.New[Message](d, o)
		require.NoError(t, err)
		err = c.Run(t.Context(), func(context.Context, Message) error { return nil })
		require.ErrorIs(t, err, stream.ErrMaxFailures)
		for i, e := range append(log.all(), err) {
			assert.ErrorIs(t, e, stream.ErrPingTimeout, "disconnect %d", i+1)
			assert.NotErrorIs(t, e, context.DeadlineExceeded, "disconnect %d: %v", i+1, e)
			assert.NotErrorIs(t, e, context.Canceled, "disconnect %d: %v", i+1, e)
		}

		o.MaxFailures = 0
		c, err = stream.New[Message](d, o)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		err = c.Run(ctx, func(context.Context, Message) error { return nil })
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, stream.ErrPingTimeout)
	})
}

// A handshake that outlasts HandshakeTimeout is ErrHandshakeTimeout, not
// the end of the caller's context (issue 10 item 9).
func TestClientHandshakeTimeoutIsNotAContextError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := pipenet.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers the handshake
		}))
		defer srv.Close()
		d := &Dialer{URL: "ws://ws.test/", HTTPClient: srv.Client(), HandshakeTimeout: time.Second}
		var log disconnectLog
		c, err := stream.New[Message](d, stream.Options[Message]{OnState: log.add, MaxFailures: 2, Backoff: fastBackoff})
		require.NoError(t, err)
		err = c.Run(t.Context(), func(context.Context, Message) error { return nil })
		require.ErrorIs(t, err, stream.ErrMaxFailures)
		require.Len(t, log.all(), 2)
		for _, e := range append(log.all(), err) {
			assert.ErrorIs(t, e, ErrHandshakeTimeout)
			assert.False(t, retry.IsPermanent(e))
			assert.False(t, errors.Is(e, context.DeadlineExceeded) || errors.Is(e, context.Canceled), "%v", e)
		}
	})
}

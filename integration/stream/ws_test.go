package streamit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/websocket"
)

// wsStats is what ws-server.js reports on GET /stats.
type wsStats struct {
	Connections int
	Open        int
	Closes      []struct {
		Conn   int
		Code   int
		Reason string
	}
	Pings    int
	Messages []struct {
		Conn int
		Data string
	}
	Subscribes map[string]int
}

func (s *nodeServer) wsStats() wsStats {
	s.t.Helper()
	var st wsStats
	s.Stats(&st)
	return st
}

// fast is a reconnect schedule for tests: a few milliseconds between
// attempts, so that a test spends its time on what it checks.
var fast = retry.Schedule{Initial: time.Millisecond, Max: 20 * time.Millisecond}

func newWSClient(t *testing.T, url string, o stream.Options[websocket.Message]) *stream.Client[websocket.Message] {
	t.Helper()
	c, err := stream.New[websocket.Message](&websocket.Dialer{URL: url}, o)
	require.NoError(t, err)
	return c
}

func ignoreMessages(context.Context, websocket.Message) error { return nil }

// Issue 10 item 8: when a heartbeat ping was waiting for its pong as the
// server's close frame arrived, the failed ping ("use of closed network
// connection") was recorded as ErrPingTimeout: a clean close reported as a
// dead peer. The ws server here never answers pings and closes with 1001 at
// each ping, at once or a few ms later, over several connections; every
// disconnect must be reported as the close, none as a ping timeout.
func TestWebSocketCleanCloseAtHeartbeatIsNotReportedAsPingTimeout(t *testing.T) {
	const conns = 16
	srv := startNode(t, "ws-server.js", 0, map[string]any{
		"autoPong":    false,
		"closeOnPing": map[string]any{"code": 1001, "delaysMs": []int{0, 0, 1, 2, 3, 5, 8, 0, 1, 13, 0, 2, 0, 4, 0, 1}},
	})
	var rec recorder
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat:   50 * time.Millisecond,
		PingTimeout: 5 * time.Second, // no ping can really run out of time here
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error { return c.Run(ctx, ignoreMessages) })
	eventually(t, 30*time.Second, func() bool { return len(rec.disconnects()) >= conns },
		"%d disconnects (server closes at each ping)", conns)
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)

	st := srv.wsStats()
	assert.GreaterOrEqual(t, st.Pings, conns, "the server saw a ping on each connection")
	for i, e := range rec.disconnects()[:conns] {
		assert.NotErrorIs(t, e.Err, stream.ErrPingTimeout, "disconnect %d was the server's close", i+1)
		assert.Equal(t, cws.StatusGoingAway, cws.CloseStatus(e.Err),
			"disconnect %d is reported with the server's close status: %v", i+1, e.Err)
	}
}

// Issue 10 item 9: a ping-timeout disconnect matched context.DeadlineExceeded,
// so code that recognises its own shutdown that way took a dead peer for it.
// The ws server here never answers pings (autoPong off). Every disconnect
// must be a ping timeout that matches no context error; only cancelling
// Run's ctx gives a context error.
func TestWebSocketPingTimeoutDoesNotMatchDeadlineExceeded(t *testing.T) {
	srv := startNode(t, "ws-server.js", 0, map[string]any{"autoPong": false})
	var rec recorder
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat:   50 * time.Millisecond,
		PingTimeout: 150 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error { return c.Run(ctx, ignoreMessages) })
	eventually(t, 20*time.Second, func() bool { return len(rec.disconnects()) >= 3 }, "3 ping-timeout disconnects")
	ds := rec.disconnects()[:3]
	for i, e := range ds {
		assert.ErrorIs(t, e.Err, stream.ErrPingTimeout, "disconnect %d", i+1)
		assert.NotErrorIs(t, e.Err, context.DeadlineExceeded, "disconnect %d is a dead peer, not the caller's deadline: %v", i+1, e.Err)
		assert.NotErrorIs(t, e.Err, context.Canceled, "disconnect %d", i+1)
	}
	st := srv.wsStats()
	assert.GreaterOrEqual(t, st.Connections, 3, "the client redialled after each ping timeout")
	assert.GreaterOrEqual(t, st.Pings, 3)

	// Only the end of the caller's context is a context error.
	r.cancel()
	err := r.wait(t, 10*time.Second)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, stream.ErrPingTimeout)
}

// The caller's deadline passing is reported as DeadlineExceeded (and only
// then): the positive side of item 9, against a peer that never pongs.
func TestWebSocketCallerDeadlineIsDeadlineExceeded(t *testing.T) {
	srv := startNode(t, "ws-server.js", 0, map[string]any{"autoPong": false})
	var rec recorder
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat:   50 * time.Millisecond,
		PingTimeout: 100 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err := c.Run(ctx, ignoreMessages)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	pingTimeouts := 0
	for i, e := range rec.disconnects() {
		if errors.Is(e.Err, stream.ErrPingTimeout) {
			pingTimeouts++
			assert.NotErrorIs(t, e.Err, context.DeadlineExceeded, "disconnect %d is a dead peer, not the caller's deadline: %v", i+1, e.Err)
		} else {
			assert.ErrorIs(t, e.Err, context.DeadlineExceeded, "disconnect %d is either a ping timeout or the caller's deadline", i+1)
		}
	}
	assert.GreaterOrEqual(t, pingTimeouts, 2, "ping timeouts before the deadline")
}

// A server that drops the connection every few messages: the client, which
// subscribes from its position in OnConnect, receives the whole feed in
// order, without loss or duplicate, and subscribes exactly once on each
// connection.
func TestWebSocketDroppingServerLosesNoMessageAndResubscribesOncePerConnection(t *testing.T) {
	const total, per = 200, 23
	srv := startNode(t, "ws-server.js", 0, map[string]any{"feed": map[string]any{"total": total, "per": per}})
	var got list[string]
	next := 0 // touched only on Run's goroutine: by OnConnect and the handler
	errDone := errors.New("feed complete")
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Backoff: fast,
		OnConnect: func(ctx context.Context, s stream.Sender[websocket.Message]) error {
			return s.Send(ctx, websocket.Message{Data: []byte("subscribe " + strconv.Itoa(next))})
		},
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, m websocket.Message) error {
			got.add(string(m.Data))
			next++
			if next == total {
				return errDone
			}
			return nil
		})
	})
	require.ErrorIs(t, r.wait(t, 30*time.Second), errDone)

	want := make([]string, total)
	for i := range want {
		want[i] = strconv.Itoa(i)
	}
	require.Equal(t, want, got.get(), "every message once, in order")

	st := srv.wsStats()
	minConns := (total + per - 1) / per
	assert.GreaterOrEqual(t, st.Connections, minConns)
	assert.Len(t, st.Subscribes, st.Connections, "a subscribe on every connection")
	for conn, n := range st.Subscribes {
		assert.Equal(t, 1, n, "subscribes on connection %s", conn)
	}
	assert.EqualValues(t, st.Connections, c.Stats().Connects)
}

// Lessons, reconnecting streams: a server that accepts and then drops at
// once must see the delays grow, not a reconnect storm (go-sse, Python
// websockets reset the backoff on every successful open). Decided by
// counts: the failure count never resets, and the server sees a handful of
// connections in the window, not hundreds.
func TestWebSocketAcceptThenCloseServerSeesBackoffNotAStorm(t *testing.T) {
	for _, code := range []int{1000, 0} {
		name := fmt.Sprintf("close %d", code)
		if code == 0 {
			name = "terminate"
		}
		t.Run(name, func(t *testing.T) {
			srv := startNode(t, "ws-server.js", 0, map[string]any{"acceptThenClose": map[string]any{"code": code}})
			var rec recorder
			c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
				Backoff: retry.Schedule{Initial: 20 * time.Millisecond, Max: 5 * time.Second},
				OnState: rec.OnState,
			})
			window := 1500 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), window)
			defer cancel()
			err := c.Run(ctx, ignoreMessages)
			require.ErrorIs(t, err, context.DeadlineExceeded)

			st := srv.wsStats()
			// Full jitter from 20ms doubling: about 7 connections in 1.5s;
			// without backoff there would be hundreds.
			assert.GreaterOrEqual(t, st.Connections, 2, "the client kept reconnecting")
			assert.LessOrEqual(t, st.Connections, 20, "connections in %v", window)
			ds := rec.disconnects()
			require.NotEmpty(t, ds)
			for i, e := range ds {
				assert.Equal(t, i+1, e.Attempt, "failure count never resets: disconnect %d (%v)", i+1, e.Err)
			}
		})
	}
}

// A ws server killed and started again on the same port: the client
// reconnects by itself and reads from the new server.
func TestWebSocketReconnectsAfterServerKilledAndRestarted(t *testing.T) {
	srv := startNode(t, "ws-server.js", 0, map[string]any{"greet": true})
	var got list[string]
	var rec recorder
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Backoff: retry.Schedule{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		OnState: rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, m websocket.Message) error {
			got.add(string(m.Data))
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return got.len() == 1 }, "greeting from the first server")

	srv.Kill()
	eventually(t, 10*time.Second, func() bool { return len(rec.disconnects()) >= 1 }, "a disconnect after the kill")
	srv2 := startNode(t, "ws-server.js", srv.Port, map[string]any{"greet": true})
	eventually(t, 10*time.Second, func() bool { return got.len() == 2 }, "greeting from the restarted server")

	assert.Equal(t, []string{"hello 1", "hello 1"}, got.get())
	assert.Equal(t, 1, srv2.wsStats().Connections)
	assert.EqualValues(t, 2, c.Stats().Connects)
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

// Cancelling Run's context closes the connection normally: the ws server
// sees a close frame with status 1000, and Run returns with no goroutine
// left behind.
func TestWebSocketCancelClosesWithNormalClosureAndLeavesNoGoroutine(t *testing.T) {
	srv := startNode(t, "ws-server.js", 0, map[string]any{})
	leaks := goleak.IgnoreCurrent()
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat: 50 * time.Millisecond, // a watchdog goroutine is running too
	})
	r := start(t, t.Context(), func(ctx context.Context) error { return c.Run(ctx, ignoreMessages) })
	eventually(t, 10*time.Second, func() bool { return srv.wsStats().Open == 1 }, "the connection is up")
	time.Sleep(120 * time.Millisecond) // a ping or two went by

	began := time.Now()
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
	assert.Less(t, time.Since(began), 3*time.Second, "Run returns within the close bound")
	goleak.VerifyNone(t, leaks)

	var st wsStats
	eventually(t, 5*time.Second, func() bool { st = srv.wsStats(); return len(st.Closes) == 1 }, "the server saw the close")
	assert.Equal(t, 1000, st.Closes[0].Code, "close status seen by the server")
	assert.Equal(t, 1, st.Connections)
}

// Lessons, reconnecting streams (massive-com client #844): a slow consumer
// stopped reading, its pongs went unread, and the connection was killed as
// dead. Here the handler takes 300ms per message while the heartbeat is
// 50ms and the ping timeout 100ms; the ws server answers every ping, so the
// connection must survive: no disconnect, every message, one connection.
func TestWebSocketSlowHandlerIsNotTakenForADeadPeer(t *testing.T) {
	const n = 4
	srv := startNode(t, "ws-server.js", 0, map[string]any{})
	var rec recorder
	var got list[string]
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat:   50 * time.Millisecond,
		PingTimeout: 100 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(ctx context.Context, m websocket.Message) error {
			got.add(string(m.Data))
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
			}
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return srv.wsStats().Open == 1 }, "the connection is up")
	for i := range n {
		assert.Equal(t, "1", srv.Post("/push", "m"+strconv.Itoa(i)), "connections pushed to")
	}
	eventually(t, 20*time.Second, func() bool { return got.len() == n }, "%d messages", n)
	// Once the last handler call returned, pings resume and are answered.
	eventually(t, 10*time.Second, func() bool { return srv.wsStats().Pings >= 3 }, "pings after the handler calls")

	assert.Equal(t, []string{"m0", "m1", "m2", "m3"}, got.get())
	assert.Empty(t, rec.disconnects(), "disconnects")
	assert.Equal(t, 1, srv.wsStats().Connections)
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

// Item 7 on the WebSocket transport: any bytes received are liveness, not
// only whole messages. The ws server sends one message in 8 fragments,
// 150ms apart (about 1.05s), while the client's IdleTimeout is 500ms and
// pings are off: the message must arrive whole on the first connection.
func TestWebSocketMessageArrivingInSlowFragmentsIsNotIdle(t *testing.T) {
	srv := startNode(t, "ws-server.js", 0, map[string]any{
		"slowMessage": map[string]any{"fragments": 8, "intervalMs": 150},
	})
	var rec recorder
	var got list[string]
	c := newWSClient(t, srv.URL("ws", "/ws"), stream.Options[websocket.Message]{
		Heartbeat:   -1,
		IdleTimeout: 500 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, m websocket.Message) error {
			got.add(string(m.Data))
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return got.len() >= 1 }, "the fragmented message")
	assert.Equal(t, "part0;part1;part2;part3;part4;part5;part6;part7;", got.get()[0])
	assert.Empty(t, rec.disconnects(), "idle disconnects while fragments arrived")
	assert.Equal(t, 1, srv.wsStats().Connections)
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

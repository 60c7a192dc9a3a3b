package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
)

// fastBackoff keeps reconnect tests quick.
var fastBackoff = retry.Schedule{Initial: time.Millisecond, Max: 5 * time.Millisecond}

func TestClientResubscribesAndReceivesEveryMessageAcrossDrops_recws(t *testing.T) {
	const perConn, total = 5, 40
	var (
		next        atomic.Int64 // next sequence number the server sends
		conns       atomic.Int64
		notFirstSub atomic.Int64 // connections whose first message was not "subscribe"
	)
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, _ <-chan struct{}) {
		conns.Add(1)
		_, first, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		if string(first) != "subscribe" {
			notFirstSub.Add(1)
			return
		}
		// Keep reading so that the client's close frame is answered.
		readCtx := ws.CloseRead(context.Background())
		for range perConn {
			seq := next.Add(1) - 1
			if err := ws.Write(context.Background(), websocket.MessageText, []byte(strconv.FormatInt(seq, 10))); err != nil {
				return
			}
		}
		_ = ws.Close(websocket.StatusGoingAway, "drop") // waits for the client's answer
		<-readCtx.Done()
	})

	c, err := stream.New[Message](&Dialer{URL: srv.URL}, stream.Options[Message]{
		Backoff: fastBackoff,
		OnConnect: func(ctx context.Context, s stream.Sender[Message]) error {
			return s.Send(ctx, Message{Data: []byte("subscribe")})
		},
	})
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []int64
	err = c.Run(ctx, func(_ context.Context, m Message) error {
		n, err := strconv.ParseInt(string(m.Data), 10, 64)
		require.NoError(t, err)
		got = append(got, n)
		if len(got) == total {
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	want := make([]int64, total)
	for i := range want {
		want[i] = int64(i)
	}
	assert.Equal(t, want, got, "every message sent after each reconnect arrives, in order, once")
	assert.Zero(t, notFirstSub.Load(), "each connection starts with the subscription")
	assert.GreaterOrEqual(t, conns.Load(), int64(total/perConn))
	assert.GreaterOrEqual(t, c.Stats().Connects, int64(total/perConn))
}

func TestClientDetectsPeerThatNeverPongs_massive844(t *testing.T) {
	// The server never reads, so coder/websocket never answers pings: the
	// peer looks alive to TCP but is dead to the application.
	var conns atomic.Int64
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) {
		conns.Add(1)
		<-stop
	})

	var (
		mu      sync.Mutex
		reasons []error
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// A long CloseTimeout: a dead peer is closed at once (CloseNow), so the
	// reconnect does not wait for a closing handshake nobody will answer.
	c, err := stream.New[Message](&Dialer{URL: srv.URL, CloseTimeout: 10 * time.Second}, stream.Options[Message]{
		Backoff:     fastBackoff,
		Heartbeat:   30 * time.Millisecond,
		PingTimeout: 30 * time.Millisecond,
		OnState: func(e stream.StateEvent) {
			if e.State != stream.StateDisconnected {
				return
			}
			mu.Lock()
			reasons = append(reasons, e.Err)
			if len(reasons) == 2 {
				cancel()
			}
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	start := time.Now()
	err = c.Run(ctx, func(context.Context, Message) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second, "two dead peers found and dropped without waiting 10s for either close")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, reasons, 2)
	for _, r := range reasons {
		assert.ErrorIs(t, r, stream.ErrPingTimeout)
	}
	assert.GreaterOrEqual(t, conns.Load(), int64(2), "the client reconnected after each dead connection")
}

func TestClientStopsOnUnauthorizedHandshake(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	defer srv.Close()

	c, err := stream.New[Message](&Dialer{URL: srv.URL}, stream.Options[Message]{Backoff: fastBackoff})
	require.NoError(t, err)
	err = c.Run(t.Context(), func(context.Context, Message) error { return nil })
	require.Error(t, err)
	assert.True(t, retry.IsPermanent(err))
	var he *HandshakeError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, http.StatusUnauthorized, he.Status)
	assert.Equal(t, int64(1), hits.Load(), "dialled once")
	assert.Equal(t, int64(1), c.Stats().Dials)
}

func TestClientRetriesServerErrorsThenConnects(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := ws.CloseRead(context.Background())
		_ = ws.Write(context.Background(), websocket.MessageText, []byte("hello"))
		<-ctx.Done()
	}))
	defer srv.Close()

	c, err := stream.New[Message](&Dialer{URL: srv.URL}, stream.Options[Message]{Backoff: fastBackoff})
	require.NoError(t, err)
	boom := errors.New("got it")
	err = c.Run(t.Context(), func(_ context.Context, m Message) error {
		assert.Equal(t, "hello", string(m.Data))
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int64(3), hits.Load())
}

func TestClientCancelClosesPromptlyWhenPeerIgnoresClose_coder(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) { <-stop })
	ctx, cancel := context.WithCancel(t.Context())
	c, err := stream.New[Message](&Dialer{URL: srv.URL, CloseTimeout: 100 * time.Millisecond}, stream.Options[Message]{
		OnState: func(e stream.StateEvent) {
			if e.State == stream.StateConnected {
				cancel()
			}
		},
	})
	require.NoError(t, err)
	start := time.Now()
	err = c.Run(ctx, func(context.Context, Message) error { return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second, "Run returns within CloseTimeout, not coder's 10s")
}

// Cancelling Run closes the connection with the close handshake (status
// 1000), not by dropping the TCP connection: the Client must close the Conn
// before it cancels the context the Conn's Read is running with.
func TestClientCancelClosesWithNormalClosureNotAbruptly(t *testing.T) {
	statuses := make(chan websocket.StatusCode, 1)
	srv := wsServer(t, func(ws *websocket.Conn, r *http.Request, _ <-chan struct{}) {
		_ = ws.Write(r.Context(), websocket.MessageText, []byte("hello"))
		_, _, err := ws.Read(context.Background()) // until the client closes
		statuses <- websocket.CloseStatus(err)
	})
	ctx, cancel := context.WithCancel(t.Context())
	c, err := stream.New[Message](&Dialer{URL: srv.URL}, stream.Options[Message]{})
	require.NoError(t, err)
	err = c.Run(ctx, func(context.Context, Message) error { cancel(); return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, websocket.StatusNormalClosure, <-statuses)
}

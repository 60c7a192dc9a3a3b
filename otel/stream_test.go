package sluiceotel_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sluiceotel "github.com/sluicego/sluice/otel"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
)

// sseServer sends two events on each connection; it closes the first
// connection after them and keeps later ones open until the client leaves.
func sseServer(t *testing.T) *httptest.Server {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := conns.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 1; i <= 2; i++ {
			_, _ = fmt.Fprintf(w, "id: %d-%d\ndata: event %d of connection %d\n\n", n, i, i, n)
		}
		w.(http.Flusher).Flush()
		if n > 1 {
			<-r.Context().Done()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStreamMetricsFromARealSSESession(t *testing.T) {
	cfg, reader, _ := setup(t, false)
	srv := sseServer(t)
	var states []stream.State
	opts := sluiceotel.InstrumentStream(stream.Options[sse.Event]{
		Backoff: retry.Schedule{Initial: time.Millisecond, Max: time.Millisecond},
		OnState: func(e stream.StateEvent) { states = append(states, e.State) },
	}, cfg)
	c, err := stream.New[sse.Event](&sse.Dialer{URL: srv.URL}, opts)
	require.NoError(t, err)
	reg, err := sluiceotel.ObserveStream(c, cfg)
	require.NoError(t, err)
	defer func() { require.NoError(t, reg.Unregister()) }()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := 0
	err = c.Run(ctx, func(ctx context.Context, e sse.Event) error {
		received++
		if received == 4 {
			p := points(t, reader)
			assert.Equal(t, 1.0, p["sluice.stream.state{sluice.state=connected}"])
			assert.Equal(t, 0.0, p["sluice.stream.state{sluice.state=disconnected}"])
			cancel()
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []stream.State{
		stream.StateConnecting, stream.StateConnected, stream.StateDisconnected, // first connection: EOF
		stream.StateConnecting, stream.StateConnected, stream.StateDisconnected, // second: canceled
		stream.StateClosed,
	}, states, "the user's OnState still runs, in order")

	p := points(t, reader)
	assert.Equal(t, map[string]float64{
		"sluice.stream.disconnects{sluice.reason=eof}":      1,
		"sluice.stream.disconnects{sluice.reason=canceled}": 1,
	}, named(p, "sluice.stream.disconnects"))
	assert.Equal(t, 1.0, p["sluice.stream.connection.duration{sluice.reason=eof}"])
	assert.Equal(t, 1.0, p["sluice.stream.reconnects{}"])
	assert.Empty(t, named(p, "sluice.stream.connect.failures"))
	assert.Equal(t, 4.0, p["sluice.stream.messages{sluice.direction=in}"])
	assert.Equal(t, 0.0, p["sluice.stream.messages{sluice.direction=out}"])
	assert.Equal(t, 2.0, p["sluice.stream.dials{}"])
	assert.Equal(t, 2.0, p["sluice.stream.connects{}"])
	assert.Equal(t, 0.0, p["sluice.stream.messages.dropped{}"])
	assert.Equal(t, 0.0, p["sluice.stream.send_buffer{}"])
	assert.Equal(t, 1.0, p["sluice.stream.state{sluice.state=closed}"])
	assert.Equal(t, 0.0, p["sluice.stream.state{sluice.state=connected}"])
}

// silentConn is an in-memory connection to a dead peer: Read blocks until
// Close, and Ping, if pings is set, is never answered.
type silentConn struct {
	closed chan struct{}
	once   sync.Once
}

func newSilentConn() *silentConn { return &silentConn{closed: make(chan struct{})} }

func (c *silentConn) Read(ctx context.Context) (string, error) {
	select {
	case <-c.closed:
		return "", errors.New("closed")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *silentConn) Write(context.Context, string) error { return nil }

func (c *silentConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

type pingingConn struct{ *silentConn }

func (c pingingConn) Ping(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestStreamDeadPeers(t *testing.T) {
	for _, tc := range []struct {
		reason string
		conn   func() stream.Conn[string]
		opts   stream.Options[string]
	}{
		{"ping_timeout", func() stream.Conn[string] { return pingingConn{newSilentConn()} },
			stream.Options[string]{Heartbeat: time.Second, PingTimeout: time.Second}},
		{"idle_timeout", func() stream.Conn[string] { return newSilentConn() },
			stream.Options[string]{Heartbeat: -1, IdleTimeout: 2 * time.Second}},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg, reader, _ := setup(t, false)
				o := tc.opts
				o.Backoff = retry.Schedule{Initial: time.Millisecond, Max: time.Millisecond, Jitter: retry.JitterNone}
				o.StableAfter = time.Hour
				c, err := stream.New(stream.DialFunc[string](func(context.Context) (stream.Conn[string], error) {
					return tc.conn(), nil
				}), sluiceotel.InstrumentStream(o, cfg))
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- c.Run(ctx, func(context.Context, string) error { return nil }) }()
				// The peer is found dead 2s after each connection is up:
				// once at 2s, once at 4.001s.
				time.Sleep(5 * time.Second)
				cancel()
				require.ErrorIs(t, <-done, context.Canceled)

				p := points(t, reader)
				assert.Equal(t, map[string]float64{
					"sluice.stream.disconnects{sluice.reason=" + tc.reason + "}": 2,
					"sluice.stream.disconnects{sluice.reason=canceled}":          1,
				}, named(p, "sluice.stream.disconnects"))
				assert.Equal(t, 2.0, p["sluice.stream.reconnects{}"])
				assert.Equal(t, 4.0, p["sluice.stream.connection.duration{sluice.reason="+tc.reason+"}.sum"], "each dead connection was up 2s")
			})
		})
	}
}

func TestStreamConnectFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg, reader, _ := setup(t, false)
		c, err := stream.New(stream.DialFunc[string](func(context.Context) (stream.Conn[string], error) {
			return nil, errors.New("refused")
		}), sluiceotel.InstrumentStream(stream.Options[string]{MaxFailures: 3}, cfg))
		require.NoError(t, err)
		require.ErrorIs(t, c.Run(context.Background(), func(context.Context, string) error { return nil }), stream.ErrMaxFailures)
		p := points(t, reader)
		assert.Equal(t, 3.0, p["sluice.stream.connect.failures{sluice.reason=error}"])
		assert.Equal(t, 2.0, p["sluice.stream.reconnects{}"])
		assert.Empty(t, named(p, "sluice.stream.disconnects"))
	})
}

package websocket

import (
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/stream/internal/activity"
)

// netConnSlot receives the TCP connection dialled for one handshake, so that
// Close can force the connection shut when the peer ignores the close frame
// (coder/websocket's own Close may wait about 10s for it), and records when
// bytes arrive on it.
type netConnSlot struct {
	mu    sync.Mutex
	conn  net.Conn
	clock *activity.Clock // nil until a dial's reads are tracked
}

// activity returns the clock of the connection's reads, or nil if the
// connection was not dialled through recordDial's plain dial.
func (s *netConnSlot) activity() *activity.Clock {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock
}

// track returns the clock on which the connection's reads are recorded,
// creating it on the first call.
func (s *netConnSlot) track() *activity.Clock {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clock == nil {
		s.clock = activity.New()
	}
	return s.clock
}

func (s *netConnSlot) set(c net.Conn) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
}

func (s *netConnSlot) close() bool {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return false
	}
	c.Close()
	return true
}

type netConnSlotKey struct{}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// recordDial wraps dial so that the connection is handed to the netConnSlot
// found in the handshake request's context. http.Transport dials with a
// context that keeps the request context's values. With track set, the
// connection is also wrapped so that every read that returns bytes (frames,
// control frames, parts of frames) is recorded on the slot's clock; the
// results of DialTLSContext are left unwrapped, as http.Transport inspects
// them as *tls.Conn.
func recordDial(dial dialFunc, track bool) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return c, err
		}
		s, ok := ctx.Value(netConnSlotKey{}).(*netConnSlot)
		if !ok {
			return c, nil
		}
		s.set(c)
		if !track {
			return c, nil
		}
		return &activityConn{Conn: c, r: activity.Reader{R: c, Clock: s.track()}}, nil
	}
}

// activityConn is a net.Conn whose reads go through r, which records on the
// slot's clock when a Read returns bytes.
type activityConn struct {
	net.Conn
	r activity.Reader // reads Conn
}

func (c *activityConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// handshakeClient returns the client used for handshakes: base (or a new
// default client) with a copy of its *http.Transport whose dials are recorded
// and whose connections are never pooled, so each handshake dials its own
// TCP connection. forceable is false when base's transport is not an
// *http.Transport; Close is then bounded only by coder/websocket's timeouts.
func handshakeClient(base *http.Client) (c *http.Client, forceable bool) {
	if base == nil {
		return defaultHandshakeClient(), true
	}
	return wrapHandshakeClient(base, nil)
}

// defaultHandshakeClient is the handshake client of every Dialer without an
// HTTPClient: one transport for all of them (the module's dial, TLS and
// header timeouts), so that thousands of Dialers don't hold thousands of
// transports. Its dial hooks find their connection through the dial's
// context, so sharing it is safe.
var defaultHandshakeClient = sync.OnceValue(func() *http.Client {
	c, _ := wrapHandshakeClient(&http.Client{}, httpx.NewTransport())
	return c
})

// wrapHandshakeClient returns a copy of base whose transport (t, or a clone
// of base's) records the connection each dial makes; forceable is false when
// base's transport is not an *http.Transport, which is then used as it is.
func wrapHandshakeClient(base *http.Client, t *http.Transport) (c *http.Client, forceable bool) {
	if t == nil {
		rt := base.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		bt, ok := rt.(*http.Transport)
		if !ok {
			return base, false
		}
		t = bt.Clone()
	}
	if t.DialContext == nil {
		t.DialContext = httpx.NewDialer().DialContext
	}
	t.DialContext = recordDial(t.DialContext, true)
	if t.DialTLSContext != nil {
		t.DialTLSContext = recordDial(t.DialTLSContext, false)
	}
	t.MaxIdleConnsPerHost = -1 // never pool: an upgraded connection is not reusable anyway
	c = new(http.Client)
	*c = *base
	c.Transport = t
	return c, true
}

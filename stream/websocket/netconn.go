package websocket

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// netConnSlot receives the TCP connection dialled for one handshake, so that
// Close can force the connection shut when the peer ignores the close frame
// (coder/websocket's own Close may wait about 10s for it).
type netConnSlot struct {
	mu   sync.Mutex
	conn net.Conn
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
// context that keeps the request context's values.
func recordDial(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			if s, ok := ctx.Value(netConnSlotKey{}).(*netConnSlot); ok {
				s.set(c)
			}
		}
		return c, err
	}
}

// handshakeClient returns the client used for handshakes: base (or a new
// default client) with a copy of its *http.Transport whose dials are recorded
// and whose connections are never pooled, so each handshake dials its own
// TCP connection. forceable is false when base's transport is not an
// *http.Transport; Close is then bounded only by coder/websocket's timeouts.
func handshakeClient(base *http.Client) (c *http.Client, forceable bool) {
	var t *http.Transport
	if base == nil {
		base = &http.Client{}
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}
	} else {
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
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	t.DialContext = recordDial(t.DialContext)
	if t.DialTLSContext != nil {
		t.DialTLSContext = recordDial(t.DialTLSContext)
	}
	t.MaxIdleConnsPerHost = -1 // never pool: an upgraded connection is not reusable anyway
	c = new(http.Client)
	*c = *base
	c.Transport = t
	return c, true
}

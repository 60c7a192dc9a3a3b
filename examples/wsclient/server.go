package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// tick is what the embedded server publishes. Seq is global across
// connections, so the client can tell how many ticks it missed while it was
// disconnected.
type tick struct {
	Seq   int64   `json:"seq"`
	Price float64 `json:"price"`
}

// tickServer is a small, unreliable price feed on 127.0.0.1. It sends
// nothing until the client subscribes, then a tick every tickEvery, and it
// ends every connection after dropEvery, in turn: with a close frame ("going
// away", as during a deploy), by cutting the TCP connection, and by playing
// dead (a hung peer or a black-holed network: the TCP connection stays open
// but nothing comes back, not even pongs, so only a heartbeat notices).
type tickServer struct {
	URL string

	tickEvery, dropEvery time.Duration
	seq                  atomic.Int64
	drops                atomic.Int64

	srv    *http.Server
	ctx    context.Context // ends at close; hijacked conns are ours to stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // one per connection handler
	served chan error
}

func startTickServer(tickEvery, dropEvery time.Duration) (*tickServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return nil, err
	}
	s := &tickServer{URL: "ws://" + ln.Addr().String() + "/feed", tickEvery: tickEvery, dropEvery: dropEvery,
		served: make(chan error, 1)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = &http.Server{Handler: http.HandlerFunc(s.feed), ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c) // so feed can make it play dead
		}}
	go func() { s.served <- s.srv.Serve(deadableListener{ln}) }()
	return s, nil
}

// close stops accepting, ends every connection and waits for their handlers.
func (s *tickServer) close() {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx) // WebSocket conns are hijacked: Shutdown skips them
	s.wg.Wait()             // ...so wait for their handlers ourselves
	<-s.served              // Serve has returned (http.ErrServerClosed)
}

func (s *tickServer) feed(w http.ResponseWriter, r *http.Request) {
	s.wg.Add(1)
	defer s.wg.Done()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()

	// A reader goroutine sees the subscription and keeps reading so that the
	// client's pings are answered (coder/websocket handles control frames
	// inside Read). It ends when the connection does.
	subscribed := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		var once sync.Once
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var msg struct{ Op string }
			if json.Unmarshal(data, &msg) == nil && msg.Op == "subscribe" {
				once.Do(func() { close(subscribed) })
			}
		}
	}()
	defer func() { c.CloseNow(); <-readDone }()

	drop := time.NewTimer(s.dropEvery)
	defer drop.Stop()
	var ticks <-chan time.Time // nil until subscribed: no ticks before that
	t := time.NewTicker(s.tickEvery)
	defer t.Stop()
	waitSub := subscribed
	for {
		select {
		case <-waitSub:
			waitSub, ticks = nil, t.C
		case <-ticks:
			n := s.seq.Add(1)
			data, _ := json.Marshal(tick{Seq: n, Price: 100 + float64(n%50)/10})
			if err := c.Write(s.ctx, websocket.MessageText, data); err != nil {
				return
			}
		case <-readDone: // the client went away
			return
		case <-s.ctx.Done():
			_ = c.Close(websocket.StatusGoingAway, "server shutting down")
			return
		case <-drop.C: // time to be unreliable
			switch s.drops.Add(1) % 3 {
			case 1:
				_ = c.Close(websocket.StatusGoingAway, "restarting")
			case 2:
				_ = c.CloseNow() // cut the TCP connection, no close frame
			case 0:
				r.Context().Value(connKey{}).(*deadableConn).playDead()
				select { // until the client's heartbeat gives up on us
				case <-readDone:
				case <-s.ctx.Done():
				}
			}
			return
		}
	}
}

type connKey struct{}

// deadableListener wraps accepted connections in a deadableConn.
type deadableListener struct{ net.Listener }

func (l deadableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadableConn{Conn: c}, nil
}

// deadableConn can play dead: once playDead is called it swallows what it
// reads and discards what it writes, so pings get no pong, yet it still
// notices when the client closes the connection.
type deadableConn struct {
	net.Conn
	dead atomic.Bool
}

func (c *deadableConn) playDead() { c.dead.Store(true) }

func (c *deadableConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for err == nil && c.dead.Load() {
		n, err = c.Conn.Read(p)
	}
	return n, err
}

func (c *deadableConn) Write(p []byte) (int, error) {
	if c.dead.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

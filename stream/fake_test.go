package stream_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/stream"
)

var errConnClosed = errors.New("fake: connection closed")

// fakeConn is one in-memory connection. The test holds it as the server
// side (Push, Drop, Recv); the Client holds it as a stream.Conn[string].
type fakeConn struct {
	srv       *fakeServer
	toClient  chan string
	toServer  chan string
	dropped   chan error // a server-side failure, seen by Read
	closed    chan struct{}
	closeOnce sync.Once
	reading   atomic.Int32  // Reads in progress
	writing   atomic.Int32  // Writes in progress
	deaf      atomic.Bool   // never answers pings
	pingsFail chan struct{} // closed by FailPings

	mu       sync.Mutex
	lastByte time.Time // when the client last received bytes (see Trickle)
	unread   bool      // bytes sent while no Read was in progress
}

// Trickle sends the client bytes that are no message (a keep-alive
// comment, a control frame, part of a message). As with a real transport,
// the client receives them at once if a Read is in progress, else at the
// start of its next Read.
func (c *fakeConn) Trickle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reading.Load() > 0 {
		c.lastByte = time.Now()
	} else {
		c.unread = true
	}
}

// FailPings makes pings in progress and later ones fail at once with
// errConnClosed, as when the connection closes under them.
func (c *fakeConn) FailPings() { close(c.pingsFail) }

// lastActivity is LastActivity of activeConn and activePingConn.
func (c *fakeConn) lastActivity() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastByte
}

func newFakeConn(srv *fakeServer) *fakeConn {
	return &fakeConn{
		srv:       srv,
		toClient:  make(chan string, 64),
		toServer:  make(chan string, 1024),
		dropped:   make(chan error, 1),
		closed:    make(chan struct{}),
		pingsFail: make(chan struct{}),
	}
}

// Push sends m to the client; false if the connection is closed.
func (c *fakeConn) Push(m string) bool {
	select {
	case c.toClient <- m:
		return true
	case <-c.closed:
		return false
	}
}

// Drop fails the connection from the server side: the client's Read
// returns err once the messages pushed before are read.
func (c *fakeConn) Drop(err error) {
	select {
	case c.dropped <- err:
	default:
	}
}

// Recv returns everything the client wrote so far.
func (c *fakeConn) Recv() []string {
	var out []string
	for {
		select {
		case m := <-c.toServer:
			out = append(out, m)
		default:
			return out
		}
	}
}

func (c *fakeConn) Read(ctx context.Context) (string, error) {
	c.reading.Add(1)
	defer c.reading.Add(-1)
	c.mu.Lock()
	if c.unread {
		c.lastByte, c.unread = time.Now(), false
	}
	c.mu.Unlock()
	select { // messages pushed before a Drop come first
	case m := <-c.toClient:
		return m, nil
	default:
	}
	select {
	case m := <-c.toClient:
		return m, nil
	case err := <-c.dropped:
		_ = c.Close()
		return "", err
	case <-c.closed:
		return "", errConnClosed
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *fakeConn) Write(ctx context.Context, m string) error {
	if c.writing.Add(1) > 1 {
		c.srv.overlaps.Add(1)
	}
	defer c.writing.Add(-1)
	select {
	case <-c.closed:
		return errConnClosed
	default:
	}
	if c.srv.writeErr != nil {
		if err := c.srv.writeErr(m); err != nil {
			return err
		}
	}
	select {
	case c.toServer <- m:
		return nil
	case <-c.closed:
		return errConnClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close closes gracefully: with srv.slowClose set it first waits that long,
// as a close handshake with a dead peer would.
func (c *fakeConn) Close() error {
	if c.srv.slowClose > 0 {
		select {
		case <-time.After(c.srv.slowClose):
		case <-c.closed:
		}
	}
	return c.CloseNow()
}

// CloseNow closes at once (stream.ForceCloser).
func (c *fakeConn) CloseNow() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.srv.open.Add(-1)
	})
	return nil
}

func (c *fakeConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// pingConn is a fakeConn that implements stream.Pinger like
// coder/websocket: a pong is only processed while a Read is in progress.
type pingConn struct{ *fakeConn }

func (c pingConn) Ping(ctx context.Context) error {
	c.srv.pings.Add(1)
	if c.srv.pongs.Load() && !c.deaf.Load() && c.reading.Load() > 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		if c.srv.pingCutsConn {
			_ = c.CloseNow() // as coder/websocket when the ping frame's write is cut
		}
		return ctx.Err()
	case <-c.closed:
		return errConnClosed
	case <-c.pingsFail:
		return errConnClosed
	}
}

// activeConn and activePingConn are fakeConn and pingConn that also
// implement stream.ActivityReporter.
type (
	activeConn     struct{ *fakeConn }
	activePingConn struct{ pingConn }
)

func (c activeConn) LastActivity() time.Time     { return c.lastActivity() }
func (c activePingConn) LastActivity() time.Time { return c.lastActivity() }

var (
	_ stream.ActivityReporter = activeConn{}
	_ stream.ActivityReporter = activePingConn{}
	_ stream.Pinger           = activePingConn{}
)

// fakeServer is a stream.Dialer[string] that accepts in memory.
type fakeServer struct {
	accepted chan *fakeConn // every accepted connection, for the test
	dials    atomic.Int32
	open     atomic.Int32 // connections not yet closed
	maxOpen  atomic.Int32
	overlaps atomic.Int32 // Writes that overlapped another Write
	pings    atomic.Int32
	pongs    atomic.Bool // whether pingConns answer

	// Set before Run, read-only afterwards.
	pinger bool
	active bool // conns implement stream.ActivityReporter
	// pingCutsConn: a ping whose ctx ends closes the connection first.
	pingCutsConn bool
	dialErr      func(n int) error    // error for the nth dial (1-based), or nil
	onAccept     func(c *fakeConn)    // runs before Dial returns
	writeErr     func(m string) error // error for a Write of m, or nil
	block        bool                 // Dial blocks until ctx ends

	slowClose time.Duration // how long a graceful Close takes
}

func newFakeServer() *fakeServer {
	s := &fakeServer{accepted: make(chan *fakeConn, 1024)}
	s.pongs.Store(true)
	return s
}

func (s *fakeServer) Dial(ctx context.Context) (stream.Conn[string], error) {
	n := int(s.dials.Add(1))
	if s.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.dialErr != nil {
		if err := s.dialErr(n); err != nil {
			return nil, err
		}
	}
	if o := s.open.Add(1); o > s.maxOpen.Load() {
		s.maxOpen.Store(o)
	}
	c := newFakeConn(s)
	if s.onAccept != nil {
		s.onAccept(c)
	}
	select {
	case s.accepted <- c:
	default:
	}
	switch {
	case s.pinger && s.active:
		return activePingConn{pingConn{c}}, nil
	case s.pinger:
		return pingConn{c}, nil
	case s.active:
		return activeConn{c}, nil
	}
	return c, nil
}

// next returns the next accepted connection, or nil if there is none yet.
func (s *fakeServer) next() *fakeConn {
	select {
	case c := <-s.accepted:
		return c
	default:
		return nil
	}
}

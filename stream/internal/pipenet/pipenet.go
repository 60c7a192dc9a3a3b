// Package pipenet serves HTTP over net.Pipe connections, so that a real
// net/http client and server can run inside a testing/synctest bubble:
// blocking on a pipe is durable, on a loopback socket it is not (the
// bubble's clock would stop). Only the stream transports' tests import it.
package pipenet

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Server is an HTTP server reached through net.Pipe connections.
type Server struct {
	ln     *pipeListener
	srv    *http.Server
	served chan struct{}
}

// NewServer starts a server for h. Close it before the bubble's function
// returns: a bubble ends only once all its goroutines have.
func NewServer(h http.Handler) *Server {
	s := &Server{
		ln:     &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})},
		srv:    &http.Server{Handler: h},
		served: make(chan struct{}),
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.ln)
	}()
	return s
}

// Client returns an HTTP client that dials the server, one connection per
// request.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: s.ln.dial, DisableKeepAlives: true}}
}

// Done is closed when Close is called: handlers of hijacked connections,
// which http.Server.Close does not reach, return on it.
func (s *Server) Done() <-chan struct{} { return s.ln.done }

// Close closes the server and every connection it accepted, hijacked ones
// included, and waits for Serve.
func (s *Server) Close() {
	_ = s.ln.Close()
	_ = s.srv.Close()
	<-s.served
}

type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex
	accepted []net.Conn
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		l.mu.Lock()
		l.accepted = append(l.accepted, c)
		l.mu.Unlock()
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, c := range l.accepted {
			c.Close()
		}
	})
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, &net.OpError{Op: "dial", Net: "pipe", Err: net.ErrClosed}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// Command ssecontract is a test service for LaunchDarkly's sse-contract-tests
// (github.com/launchdarkly/sse-contract-tests): it implements the harness's
// test-service protocol (docs/service_spec.md there) with a stream.Client on
// an sse.Dialer, so that the suite checks package stream/sse from outside.
//
// It listens on a loopback address only (-addr, 127.0.0.1:8000 by default);
// point the suite's harness, itself on loopback, at that URL:
//
//	go run ./ssecontract -max-event-bytes 16777216
//
// The suite sends events of 5 and 10 MiB, above the Dialer's default bound
// of 1 MiB (MaxEventBytes): with the default, its two "large message" tests
// end in ErrEventTooLarge, as designed; -max-event-bytes raises the bound.
//
// Capabilities declared are those sluice has: custom headers
// (Dialer.Header), an initial Last-Event-ID (Dialer.LastEventID), a read
// timeout (Options.IdleTimeout: every byte of the body counts as activity),
// BOM stripping, 204 as the server asking to stop, and restart (the service
// closes the current connection, which the Client redials). Not declared:
// post/report (the Dialer sends GET only) and comments (the Decoder does not
// surface them).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
)

var capabilities = []string{
	"headers",
	"last-event-id",
	"read-timeout",
	"bom",
	"restart",
	"server-directed-shutdown-request",
}

var maxEventBytes int

type createParams struct {
	Tag            string            `json:"tag"`
	CallbackURL    string            `json:"callbackUrl"`
	StreamURL      string            `json:"streamUrl"`
	InitialDelayMS *int              `json:"initialDelayMs"`
	ReadTimeoutMS  *int              `json:"readTimeoutMs"`
	LastEventID    string            `json:"lastEventId"`
	Method         string            `json:"method"`
	Body           string            `json:"body"`
	Headers        map[string]string `json:"headers"`
}

type command struct {
	Command string `json:"command"`
}

// restartDialer remembers the current connection so that a restart command
// can close it; the Client then redials as after any dropped connection.
type restartDialer struct {
	*sse.Dialer
	mu         sync.Mutex
	cur        stream.Conn[sse.Event]
	restarting atomic.Bool // the caller closed cur: its end is no error
}

func (d *restartDialer) Dial(ctx context.Context) (stream.Conn[sse.Event], error) {
	c, err := d.Dialer.Dial(ctx)
	if err == nil {
		d.mu.Lock()
		d.cur = c
		d.mu.Unlock()
	}
	return c, err
}

func (d *restartDialer) restart() {
	d.mu.Lock()
	c := d.cur
	d.mu.Unlock()
	if c != nil {
		d.restarting.Store(true)
		_ = c.Close()
	}
}

type entity struct {
	tag      string
	callback string
	counter  int
	queue    chan any // callbacks, posted in order by one goroutine
	dialer   *restartDialer
	cancel   context.CancelFunc
	done     chan struct{}
}

// send queues a callback; the handler may wait for room.
func (e *entity) send(msg any) { e.queue <- msg }

// trySend queues a callback without blocking, for OnState, which must not block.
func (e *entity) trySend(msg any) {
	select {
	case e.queue <- msg:
	default:
		log.Printf("[%s] callback queue full, dropped %v", e.tag, msg)
	}
}

func (e *entity) deliver() {
	for msg := range e.queue {
		e.post(msg)
	}
}

func (e *entity) post(msg any) {
	body, _ := json.Marshal(msg)
	e.counter++
	n := e.counter
	resp, err := http.Post(fmt.Sprintf("%s/%d", strings.TrimSuffix(e.callback, "/"), n), "application/json", bytes.NewReader(body))
	if err != nil {
		log.Printf("[%s] callback %d: %v", e.tag, n, err)
		return
	}
	resp.Body.Close()
}

type service struct {
	mu       sync.Mutex
	next     int
	entities map[string]*entity
	addr     string
	stop     func()
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"capabilities": capabilities})
	case r.URL.Path == "/" && r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		go s.stop()
	case r.URL.Path == "/" && r.Method == http.MethodPost:
		s.create(w, r)
	case strings.HasPrefix(r.URL.Path, "/streams/"):
		id := strings.TrimPrefix(r.URL.Path, "/streams/")
		s.mu.Lock()
		e := s.entities[id]
		if e != nil && r.Method == http.MethodDelete {
			delete(s.entities, id)
		}
		s.mu.Unlock()
		if e == nil {
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodDelete:
			e.cancel()
			<-e.done
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			var c command
			if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			switch c.Command {
			case "restart":
				e.dialer.restart()
				w.WriteHeader(http.StatusNoContent)
			default:
				http.Error(w, "unknown command", http.StatusBadRequest)
			}
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *service) create(w http.ResponseWriter, r *http.Request) {
	var p createParams
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if p.StreamURL == "" || p.CallbackURL == "" {
		http.Error(w, "streamUrl and callbackUrl are required", http.StatusBadRequest)
		return
	}
	if p.Method != "" && p.Method != http.MethodGet || p.Body != "" {
		http.Error(w, "only GET without a body is supported", http.StatusBadRequest)
		return
	}
	h := http.Header{}
	for k, v := range p.Headers {
		h.Set(k, v)
	}
	d := &restartDialer{Dialer: &sse.Dialer{URL: p.StreamURL, Header: h, LastEventID: p.LastEventID, MaxEventBytes: maxEventBytes}}
	opts := stream.Options[sse.Event]{}
	if p.InitialDelayMS != nil {
		// Zero means "the default" in retry.Schedule; the contract's 0 means
		// no delay, which is spelled retry.NoDelay.
		initial := time.Duration(*p.InitialDelayMS) * time.Millisecond
		if initial <= 0 {
			initial = retry.NoDelay
		}
		opts.Backoff = retry.Schedule{Initial: initial}
	}
	if p.ReadTimeoutMS != nil {
		opts.IdleTimeout = time.Duration(*p.ReadTimeoutMS) * time.Millisecond
	}
	e := &entity{tag: p.Tag, callback: p.CallbackURL, dialer: d, done: make(chan struct{}), queue: make(chan any, 1000)}
	go e.deliver()
	opts.OnState = func(ev stream.StateEvent) {
		log.Printf("[%s] %v", e.tag, ev)
		if ev.State != stream.StateDisconnected || ev.Err == nil || errors.Is(ev.Err, context.Canceled) {
			return
		}
		if errors.Is(ev.Err, sse.ErrClosed) && d.restarting.Swap(false) {
			return // the restart command closed the connection
		}
		e.trySend(map[string]any{"kind": "error", "error": ev.Err.Error()})
	}
	c, err := stream.New[sse.Event](d, opts)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel

	s.mu.Lock()
	s.next++
	id := fmt.Sprint(s.next)
	s.entities[id] = e
	s.mu.Unlock()

	go func() {
		defer close(e.queue)
		defer close(e.done)
		err := c.Run(ctx, func(_ context.Context, ev sse.Event) error {
			typ := ev.Event
			if typ == "" {
				typ = "message"
			}
			e.send(map[string]any{"kind": "event", "event": map[string]string{"type": typ, "data": ev.Data, "id": ev.ID}})
			return nil
		})
		log.Printf("[%s] Run: %v", e.tag, err)
	}()
	w.Header().Set("Location", fmt.Sprintf("http://%s/streams/%s", s.addr, id))
	w.WriteHeader(http.StatusCreated)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address (loopback)")
	flag.IntVar(&maxEventBytes, "max-event-bytes", 0, "sse.Dialer.MaxEventBytes (0: sluice's default, 1 MiB)")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || !isLoopback(host) {
		log.Fatalf("-addr %q: not a loopback address", *addr)
	}
	srv := &http.Server{Addr: *addr}
	s := &service{entities: map[string]*entity{}, addr: *addr}
	s.stop = func() { _ = srv.Shutdown(context.Background()) }
	srv.Handler = s
	log.Printf("ssecontract listening on %s", *addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package stream_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/stream"
)

// run is one Run call in its own goroutine.
type run struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startRun(ctx context.Context, c *stream.Client[string], h func(context.Context, string) error) *run {
	ctx, cancel := context.WithCancel(ctx)
	r := &run{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx, h)
	}()
	return r
}

func (r *run) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// stop cancels Run and waits for it; inside a bubble the wait takes no
// virtual time unless something in the client waits on a timer.
func (r *run) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

// events records OnState calls.
type events struct {
	mu  sync.Mutex
	evs []stream.StateEvent
}

func (e *events) add(ev stream.StateEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *events) all() []stream.StateEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]stream.StateEvent(nil), e.evs...)
}

func (e *events) states() []stream.State {
	var out []stream.State
	for _, ev := range e.all() {
		out = append(out, ev.State)
	}
	return out
}

// delays returns the Delay of every disconnected event that schedules a redial.
func (e *events) delays() []int64 {
	var out []int64
	for _, ev := range e.all() {
		if ev.State == stream.StateDisconnected && ev.Delay > 0 {
			out = append(out, int64(ev.Delay))
		}
	}
	return out
}

// collect is a handler that records messages.
type collect struct {
	mu   sync.Mutex
	msgs []string
}

func (c *collect) handle(_ context.Context, m string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
	return nil
}

func (c *collect) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

func newClient(t *testing.T, s *fakeServer, o stream.Options[string]) *stream.Client[string] {
	t.Helper()
	c, err := stream.New[string](s, o)
	require.NoError(t, err)
	return c
}

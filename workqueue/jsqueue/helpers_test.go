package jsqueue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// startServer starts an embedded nats-server with JetStream file storage in
// dir, on a random loopback port, stopped at the end of the test.
func startServer(t testing.TB, dir string) *server.Server {
	t.Helper()
	s := newServer(t, dir, -1)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func newServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	require.NoError(t, err)
	s.Start()
	require.True(t, s.ReadyForConnections(10*time.Second), "nats-server not ready")
	return s
}

// connect returns a JetStream context on a connection to s, closed at the
// end of the test.
func connect(t testing.TB, s *server.Server, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, opts...)
	require.NoError(t, err)
	return js
}

// setup starts a server and provisions cfg on it.
func setup(t testing.TB, cfg jsqueue.Config) (*server.Server, jetstream.JetStream) {
	t.Helper()
	s := startServer(t, t.TempDir())
	js := connect(t, s)
	require.NoError(t, jsqueue.Provision(ctxT(t), js, cfg))
	return s, js
}

// ctxT returns a context that ends with the test, or after a minute.
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// results collects a worker's Results.
type results[T any] struct {
	mu  sync.Mutex
	all []jsqueue.Result[T]
	ch  chan jsqueue.Result[T]
}

func newResults[T any]() *results[T] { return &results[T]{ch: make(chan jsqueue.Result[T], 1024)} }

func (r *results[T]) add(res jsqueue.Result[T]) {
	r.mu.Lock()
	r.all = append(r.all, res)
	r.mu.Unlock()
	r.ch <- res
}

func (r *results[T]) snapshot() []jsqueue.Result[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]jsqueue.Result[T](nil), r.all...)
}

// next returns the next Result, failing the test after d.
func (r *results[T]) next(t testing.TB, d time.Duration) jsqueue.Result[T] {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(d):
		t.Fatalf("no Result within %v", d)
		panic("unreachable")
	}
}

// streamMsgs returns how many messages stream holds now.
func streamMsgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	st, err := js.Stream(ctxT(t), stream)
	require.NoError(t, err)
	info, err := st.Info(ctxT(t))
	require.NoError(t, err)
	return info.State.Msgs
}

// shutdown shuts w down at the end of the test.
func shutdown[T any](t testing.TB, w *jsqueue.Worker[T]) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, w.Shutdown(ctx))
	})
}

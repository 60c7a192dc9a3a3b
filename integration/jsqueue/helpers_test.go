package jsqueueit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// startNATS starts a real nats-server with JetStream storing in a
// t.TempDir().
func startNATS(t *testing.T) *servers.NATS {
	t.Helper()
	return servers.StartNATS(t, t.TempDir())
}

// connect returns a JetStream context on a new connection to n that
// reconnects for ever (every 50ms), closed when t ends.
func connect(t *testing.T, n *servers.NATS) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(0, 0), nats.Name(t.Name()))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// ctxT returns a context that ends with the test, or after a minute.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// provision provisions cfg on the server behind js.
func provision(t *testing.T, js jetstream.JetStream, cfg jsqueue.Config) {
	t.Helper()
	require.NoError(t, jsqueue.Provision(ctxT(t), js, cfg))
}

// streamInfo returns the server's current info on stream.
func streamInfo(t *testing.T, js jetstream.JetStream, stream string) *jetstream.StreamInfo {
	t.Helper()
	st, err := js.Stream(ctxT(t), stream)
	require.NoError(t, err)
	info, err := st.Info(ctxT(t))
	require.NoError(t, err)
	return info
}

// consumerInfo returns the server's current info on the queue's consumer
// (the default name, "workers").
func consumerInfo(t *testing.T, js jetstream.JetStream, stream string) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := js.Consumer(ctxT(t), stream, "workers")
	require.NoError(t, err)
	info, err := c.Info(ctxT(t))
	require.NoError(t, err)
	return info
}

// drained reports whether the work stream is empty and its consumer has
// nothing pending or unacknowledged; errors (a server coming back) count as
// not drained.
func drained(js jetstream.JetStream, stream string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return false
	}
	si, err := st.Info(ctx)
	if err != nil || si.State.Msgs != 0 {
		return false
	}
	c, err := st.Consumer(ctx, "workers")
	if err != nil {
		return false
	}
	ci, err := c.Info(ctx)
	return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0
}

// fixedRetry retries after exactly d (no jitter), up to attempts attempts.
func fixedRetry(d time.Duration, attempts int) *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: d, Max: d, Jitter: retry.JitterNone}, MaxAttempts: attempts}
}

// ledger counts the handler calls of each job.
type ledger struct {
	mu    sync.Mutex
	calls map[int]int
	total int
}

func newLedger() *ledger { return &ledger{calls: map[int]int{}} }

func (l *ledger) record(job int) {
	l.mu.Lock()
	l.calls[job]++
	l.total++
	l.mu.Unlock()
}

// distinct returns how many jobs were handled at least once.
func (l *ledger) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// tally returns the jobs of 0..n-1 never handled, and the handler calls
// beyond the first of each job.
func (l *ledger) tally(n int) (lost []int, duplicates int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range n {
		if l.calls[i] == 0 {
			lost = append(lost, i)
		}
	}
	return lost, l.total - len(l.calls)
}

// submitJobs submits jobs 0..n-1 with keys "job-<i>" in one SubmitBatch.
func submitJobs(t *testing.T, js jetstream.JetStream, cfg jsqueue.Config, n int) {
	t.Helper()
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[int]{Key: func(i int) string { return fmt.Sprintf("job-%d", i) }})
	require.NoError(t, err)
	jobs := make([]int, n)
	for i := range jobs {
		jobs[i] = i
	}
	require.NoError(t, p.SubmitBatch(ctxT(t), jobs))
	require.Equal(t, int64(n), p.Stats().Published)
}

// startWorkers starts n Workers, each on its own connection to srv, running
// handler, and shuts them down when t ends (before the connections close).
func startWorkers[T any](t *testing.T, srv *servers.NATS, cfg jsqueue.Config, n int, handler func(context.Context, T) error, opts jsqueue.Options[T]) []*jsqueue.Worker[T] {
	t.Helper()
	ws := make([]*jsqueue.Worker[T], n)
	for i := range ws {
		js := connect(t, srv)
		w, err := jsqueue.New(ctxT(t), js, cfg, handler, opts)
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			require.NoError(t, w.Shutdown(ctx))
		})
		ws[i] = w
	}
	return ws
}

// sumStats adds up the Workers' Stats.
func sumStats[T any](ws []*jsqueue.Worker[T]) jsqueue.Stats {
	var s jsqueue.Stats
	for _, w := range ws {
		st := w.Stats()
		s.Fetched += st.Fetched
		s.Held += st.Held
		s.Running += st.Running
		s.Succeeded += st.Succeeded
		s.Failed += st.Failed
		s.Retrying += st.Retrying
		s.Released += st.Released
		s.Abandoned += st.Abandoned
	}
	return s
}

// results collects Results.
type results[T any] struct{ ch chan jsqueue.Result[T] }

func newResults[T any]() *results[T] { return &results[T]{ch: make(chan jsqueue.Result[T], 1024)} }

func (r *results[T]) add(res jsqueue.Result[T]) { r.ch <- res }

// next returns the next Result, failing the test after d.
func (r *results[T]) next(t *testing.T, d time.Duration) jsqueue.Result[T] {
	t.Helper()
	select {
	case res := <-r.ch:
		return res
	case <-time.After(d):
		t.Fatalf("no Result within %v", d)
		panic("unreachable")
	}
}

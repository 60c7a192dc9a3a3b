package workqueue_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// outcomes records every OnResult call, keyed by job.
type outcomes[T comparable] struct {
	mu  sync.Mutex
	all map[T][]workqueue.Result[T]
}

func newOutcomes[T comparable]() *outcomes[T] {
	return &outcomes[T]{all: make(map[T][]workqueue.Result[T])}
}

func (o *outcomes[T]) record(out workqueue.Result[T]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all[out.Job] = append(o.all[out.Job], out)
}

// one returns the single outcome of job, failing if there is not exactly one.
func (o *outcomes[T]) one(t *testing.T, job T) workqueue.Result[T] {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.all[job]
	require.Len(t, got, 1, "outcomes of job %v", job)
	return got[0]
}

func (o *outcomes[T]) count(s workqueue.Outcome) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, outs := range o.all {
		for _, out := range outs {
			if out.Outcome == s {
				n++
			}
		}
	}
	return n
}

func (o *outcomes[T]) jobs() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.all)
}

// requireQuiescent checks the Stats invariants of a queue with no job left.
func requireQuiescent(t *testing.T, st workqueue.Stats) {
	t.Helper()
	assert.Zero(t, st.Queued, "queued")
	assert.Zero(t, st.Running, "running")
	assert.Zero(t, st.Retrying, "retrying")
	require.Equal(t, st.Submitted, st.Succeeded+st.Failed+st.Canceled+st.Dropped, "submitted = sum of outcomes: %+v", st)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func slogTo(w *syncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

package jsqueue_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue/jsqueue"
)

func TestSameKeyWithinTheWindowIsStoredOnce(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{Key: func(job string) string { return "order-" + job }})
	require.NoError(t, err)
	require.NoError(t, p.Submit(ctxT(t), "42"))
	require.NoError(t, p.Submit(ctxT(t), "42"), "a duplicate is not an error")
	require.NoError(t, p.SubmitBatch(ctxT(t), []string{"42", "43"}))
	assert.Equal(t, uint64(2), streamMsgs(t, js, cfg.Stream))
	assert.Equal(t, jsqueue.ProducerStats{Published: 2, Duplicates: 2}, p.Stats())

	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	ids := map[string]string{}
	for range 2 {
		r := res.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
		ids[r.Job] = r.Delivery.ID
	}
	assert.Equal(t, map[string]string{"42": "order-42", "43": "order-43"}, ids, "Delivery.ID is the key")
}

func TestFullStreamPushesBack(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMsgs = 2
	_, js := setup(t, cfg)
	p := newProducer(t, js, cfg)
	require.NoError(t, p.TrySubmit(ctxT(t), "1"))
	require.NoError(t, p.TrySubmit(ctxT(t), "2"))
	assert.ErrorIs(t, p.TrySubmit(ctxT(t), "3"), jsqueue.ErrFull)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := p.Submit(ctx, "3")
	assert.ErrorIs(t, err, jsqueue.ErrFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, uint64(2), streamMsgs(t, js, cfg.Stream))

	// A blocked Submit gets in once a worker makes room.
	submitted := make(chan error, 1)
	go func() { submitted <- p.Submit(ctxT(t), "3") }()
	require.Eventually(t, func() bool { return p.Stats().FullWaits >= 3 }, 10*time.Second, time.Millisecond,
		"Submit is waiting on the full stream")
	select {
	case err := <-submitted:
		t.Fatalf("Submit returned %v while the stream was full", err)
	default:
	}
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	require.NoError(t, <-submitted)
	got := map[string]bool{}
	for range 3 {
		got[res.next(t, 10*time.Second).Job] = true
	}
	assert.Len(t, got, 3)
}

func TestSubmitBatchWaitsOutStalls(t *testing.T) {
	cfg := testConfig()
	s, _ := setup(t, cfg)
	// A pending-ack window of 4 and a stall wait of 1ns: publishes stall
	// constantly (ErrTooManyStalledMsgs), and must be waited out and made
	// again.
	js := connect(t, s, jetstream.WithPublishAsyncMaxPending(4))
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[int]{
		StallWait: time.Nanosecond,
		Key:       func(n int) string { return strconv.Itoa(n) },
	})
	require.NoError(t, err)
	jobs := make([]int, 2000)
	for i := range jobs {
		jobs[i] = i
	}
	require.NoError(t, p.SubmitBatch(ctxT(t), jobs))
	st := p.Stats()
	assert.Positive(t, st.Stalls)
	assert.Equal(t, int64(2000), st.Published)
	assert.Equal(t, uint64(2000), streamMsgs(t, js, cfg.Stream))
	t.Logf("stats: %+v", st)
}

func TestSubmitBatchWaitsForRoom(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMsgs = 10
	_, js := setup(t, cfg)
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[int]{})
	require.NoError(t, err)
	jobs := make([]int, 100)
	for i := range jobs {
		jobs[i] = i
	}
	submitted := make(chan error, 1)
	go func() { submitted <- p.SubmitBatch(ctxT(t), jobs) }()
	// No worker yet: the batch fills the stream and waits.
	require.Eventually(t, func() bool { return p.Stats().FullWaits > 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, uint64(10), streamMsgs(t, js, cfg.Stream))
	res := newResults[int]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job int) error { return nil },
		jsqueue.Options[int]{Workers: 2, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	require.NoError(t, <-submitted)
	seen := map[int]bool{}
	for range 100 {
		r := res.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
		seen[r.Job] = true
	}
	assert.Len(t, seen, 100)
}

func TestProducerClosed(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	p := newProducer(t, js, cfg)
	p.Close()
	assert.ErrorIs(t, p.Submit(ctxT(t), "x"), jsqueue.ErrClosed)
	assert.ErrorIs(t, p.TrySubmit(ctxT(t), "x"), jsqueue.ErrClosed)
	assert.ErrorIs(t, p.SubmitBatch(ctxT(t), []string{"x"}), jsqueue.ErrClosed)
}

func TestProvisionIsIdempotent(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "kept"))
	require.NoError(t, jsqueue.Provision(ctxT(t), js, cfg))
	require.NoError(t, jsqueue.Provision(ctxT(t), js, cfg))
	assert.Equal(t, uint64(1), streamMsgs(t, js, cfg.Stream), "Provision again keeps the jobs")
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	info := cons.CachedInfo()
	assert.Equal(t, time.Second, info.Config.AckWait)
	assert.Equal(t, 5, info.Config.MaxDeliver)
	assert.Equal(t, jsqueue.DefaultMaxAckPending, info.Config.MaxAckPending)
	st, err := js.Stream(ctxT(t), "JOBS_DLQ")
	require.NoError(t, err)
	assert.Equal(t, []string{"jsqueue.JOBS.dead", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.workers"}, st.CachedInfo().Config.Subjects)
	ws, err := js.Stream(ctxT(t), "JOBS")
	require.NoError(t, err)
	assert.Equal(t, jetstream.WorkQueuePolicy, ws.CachedInfo().Config.Retention)
	assert.Equal(t, jetstream.DiscardNew, ws.CachedInfo().Config.Discard)
	assert.Equal(t, jetstream.FileStorage, ws.CachedInfo().Config.Storage)

	// A changed limit is applied in place.
	cfg.MaxMsgs = 100
	require.NoError(t, jsqueue.Provision(ctxT(t), js, cfg))
	ws, err = js.Stream(ctxT(t), "JOBS")
	require.NoError(t, err)
	assert.Equal(t, int64(100), ws.CachedInfo().Config.MaxMsgs)
}

func TestInvalidOptions(t *testing.T) {
	_, js := setup(t, testConfig())
	handler := func(context.Context, string) error { return nil }
	for name, cfg := range map[string]jsqueue.Config{
		"no stream":      {},
		"bad stream":     {Stream: "a.b"},
		"bad consumer":   {Stream: "S", Consumer: "c d"},
		"wildcard":       {Stream: "S", Subject: "jobs.*"},
		"same subject":   {Stream: "S", Subject: "x", DeadLetterSubject: "x"},
		"short AckWait":  {Stream: "S", AckWait: time.Millisecond},
		"MaxDeliver 1":   {Stream: "S", MaxDeliver: 1},
		"negative limit": {Stream: "S", MaxMsgs: -1},
		"replicas":       {Stream: "S", Replicas: 7},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, jsqueue.Provision(ctxT(t), js, cfg), jsqueue.ErrInvalidOptions)
			_, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{})
			assert.ErrorIs(t, err, jsqueue.ErrInvalidOptions)
			_, err = jsqueue.New(ctxT(t), js, cfg, handler, jsqueue.Options[string]{})
			assert.ErrorIs(t, err, jsqueue.ErrInvalidOptions)
		})
	}
	cfg := testConfig()
	for name, opts := range map[string]jsqueue.Options[string]{
		"workers":   {Workers: -1},
		"prefetch":  {Prefetch: -2},
		"timeout":   {AttemptTimeout: -1},
		"heartbeat": {Heartbeat: time.Second}, // not below 90% of AckWait (1s)
		"retry":     {Retry: &retry.Policy{MaxElapsed: -1}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := jsqueue.New(ctxT(t), js, cfg, handler, opts)
			assert.ErrorIs(t, err, jsqueue.ErrInvalidOptions)
		})
	}
	_, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{BatchWindow: -1})
	assert.ErrorIs(t, err, jsqueue.ErrInvalidOptions)
	_, err = jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{Retry: &retry.Policy{MaxElapsed: -1}})
	assert.ErrorIs(t, err, jsqueue.ErrInvalidOptions)
	assert.ErrorIs(t, err, retry.ErrInvalidPolicy)
	_, err = jsqueue.New(ctxT(t), js, jsqueue.Config{Stream: "NOT_PROVISIONED"}, handler, jsqueue.Options[string]{})
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	assert.False(t, errors.Is(err, jsqueue.ErrInvalidOptions))
	assert.Panics(t, func() { _, _ = jsqueue.New[string](ctxT(t), js, cfg, nil, jsqueue.Options[string]{}) })
}

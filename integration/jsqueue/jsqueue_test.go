package jsqueueit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

const manyJobs = 2000

// Every job submitted is handled by one of three Workers and acknowledged:
// none lost, the stream and its consumer empty at the end.
func TestEveryJobHandledByThreeWorkers(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", AckWait: 5 * time.Second}
	provision(t, js, cfg)
	start := time.Now()
	submitJobs(t, js, cfg, manyJobs)
	require.Equal(t, uint64(manyJobs), streamInfo(t, js, cfg.Stream).State.Msgs)
	submitted := time.Since(start)

	l := newLedger()
	start = time.Now()
	ws := startWorkers(t, srv, cfg, 3, func(ctx context.Context, job int) error {
		l.record(job)
		return nil
	}, jsqueue.Options[int]{Workers: 4})
	require.Eventually(t, func() bool { return l.distinct() == manyJobs }, 30*time.Second, 10*time.Millisecond,
		"every job handled")
	require.Eventually(t, func() bool { return drained(js, cfg.Stream) }, 10*time.Second, 10*time.Millisecond,
		"every job acknowledged: stream and consumer empty")
	elapsed := time.Since(start)

	lost, dups := l.tally(manyJobs)
	assert.Empty(t, lost, "jobs never handled")
	assert.Zero(t, dups, "no crash, no lease lost: no job runs twice")
	st := sumStats(ws)
	assert.Equal(t, int64(manyJobs), st.Succeeded)
	assert.Zero(t, st.Abandoned+st.Failed+st.Retrying)
	for i, w := range ws {
		assert.Positive(t, w.Stats().Succeeded, "worker %d did some of the work", i)
	}
	t.Logf("%d jobs submitted in %v, handled by 3 workers in %v: lost %d, duplicates %d; per worker %d/%d/%d",
		manyJobs, submitted.Round(time.Millisecond), elapsed.Round(time.Millisecond), len(lost), dups,
		ws[0].Stats().Succeeded, ws[1].Stats().Succeeded, ws[2].Stats().Succeeded)
}

// The broker is SIGKILLed a third of the way through and restarted on the
// same port and store: the jobs it stored survive, the workers reconnect,
// and every job is handled (jobs whose acknowledgement was lost run again:
// counted, not lost).
func TestBrokerKilledAndRestartedLosesNoJob(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", AckWait: 2 * time.Second}
	provision(t, js, cfg)
	submitJobs(t, js, cfg, manyJobs)

	l := newLedger()
	ws := startWorkers(t, srv, cfg, 3, func(ctx context.Context, job int) error {
		time.Sleep(2 * time.Millisecond) // a run long enough to be cut
		l.record(job)
		return nil
	}, jsqueue.Options[int]{Workers: 4})
	require.Eventually(t, func() bool { return l.distinct() >= manyJobs/3 }, 30*time.Second, time.Millisecond)
	atKill := l.distinct()
	killed := time.Now()
	srv.Kill()
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	down := time.Since(killed)

	require.Eventually(t, func() bool { return l.distinct() == manyJobs }, 40*time.Second, 10*time.Millisecond,
		"every job handled after the restart")
	require.Eventually(t, func() bool { return drained(js, cfg.Stream) }, 20*time.Second, 20*time.Millisecond,
		"every job acknowledged: stream and consumer empty")
	finished := time.Since(killed)

	lost, dups := l.tally(manyJobs)
	assert.Empty(t, lost, "jobs never handled")
	st := sumStats(ws)
	assert.Zero(t, st.Failed, "no job dead-lettered")
	t.Logf("%d jobs, broker SIGKILLed after %d were handled, down %v; all handled and acknowledged %v after the kill: lost %d, duplicates %d (abandoned leases %d, worker stats %+v)",
		manyJobs, atKill, down.Round(time.Millisecond), finished.Round(time.Millisecond), len(lost), dups, st.Abandoned, st)
}

// A failed attempt is negatively acknowledged with the policy's delay: the
// real server holds the job back for that long (and no longer: AckWait is
// 30s), then redelivers it.
func TestRetryWaitsItsPolicyDelayOnTheServer(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", AckWait: 30 * time.Second}
	provision(t, js, cfg)
	submitJobs(t, js, cfg, 1)

	const delay = 700 * time.Millisecond
	var mu sync.Mutex
	var starts []time.Time
	res := newResults[int]()
	startWorkers(t, srv, cfg, 1, func(ctx context.Context, job int) error {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		if jsqueue.Attempt(ctx) < 3 {
			return errors.New("transient")
		}
		return nil
	}, jsqueue.Options[int]{Workers: 1, Retry: fixedRetry(delay, 5), OnResult: res.add})

	for attempt := 1; attempt <= 2; attempt++ {
		r := res.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeRetrying, r.Outcome, "attempt %d: %v", attempt, r.Err)
		assert.Equal(t, delay, r.Delay)
		assert.Equal(t, attempt, r.Delivery.Attempt, "the server's delivery count")
		// While the job waits out its delay the server holds it as one
		// pending delivery, not redelivered yet.
		ci := consumerInfo(t, js, cfg.Stream)
		assert.Equal(t, 1, ci.NumAckPending)
	}
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, 3, r.Delivery.Attempt)
	require.Eventually(t, func() bool { return drained(js, cfg.Stream) }, 5*time.Second, 10*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, starts, 3)
	var gaps []time.Duration
	for i := 1; i < len(starts); i++ {
		gap := starts[i].Sub(starts[i-1])
		gaps = append(gaps, gap.Round(time.Millisecond))
		assert.GreaterOrEqual(t, gap, delay, "redelivered before the policy's delay")
		assert.Less(t, gap, delay+3*time.Second, "redelivered after the delay, not after AckWait (%v)", cfg.AckWait)
	}
	t.Logf("policy delay %v, AckWait %v: attempts 1→2→3 started %v apart", delay, cfg.AckWait, gaps)
}

// Shutdown gives back at once the jobs a worker fetched but did not start:
// another worker, already polling, gets them within a fraction of AckWait
// (30s), while the shutting-down worker still finishes its running job.
func TestShutdownReleasesHeldJobsAtOnce(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", AckWait: 30 * time.Second}
	provision(t, js, cfg)
	submitJobs(t, js, cfg, 4)

	unblock := make(chan struct{})
	var unblockOnce sync.Once
	t.Cleanup(func() { unblockOnce.Do(func() { close(unblock) }) })
	started := make(chan int, 4)
	resA := newResults[int]()
	a, err := jsqueue.New(ctxT(t), connect(t, srv), cfg, func(ctx context.Context, job int) error {
		started <- job
		<-unblock
		return nil
	}, jsqueue.Options[int]{Workers: 1, Prefetch: 3, OnResult: resA.add})
	require.NoError(t, err)
	running := <-started
	require.Eventually(t, func() bool { return a.Stats().Held == 4 }, 10*time.Second, time.Millisecond,
		"worker A holds all 4 jobs")
	require.Eventually(t, func() bool { return consumerInfo(t, js, cfg.Stream).NumAckPending == 4 },
		5*time.Second, 10*time.Millisecond, "the server counts 4 deliveries outstanding")

	var handledByB atomic.Int64
	resB := newResults[int]()
	startWorkers(t, srv, cfg, 1, func(ctx context.Context, job int) error {
		handledByB.Add(1)
		return nil
	}, jsqueue.Options[int]{Workers: 3, OnResult: resB.add})
	time.Sleep(200 * time.Millisecond) // B polls, and gets nothing: A holds every job
	require.Zero(t, handledByB.Load())

	shutStart := time.Now()
	shutDone := make(chan error, 1)
	go func() { shutDone <- a.Shutdown(context.Background()) }()
	released := map[int]bool{}
	for range 3 {
		r := resA.next(t, 5*time.Second)
		require.Equal(t, jsqueue.OutcomeReleased, r.Outcome, "job %d", r.Job)
		assert.ErrorIs(t, r.Err, jsqueue.ErrShutdown)
		released[r.Job] = true
	}
	assert.False(t, released[running], "the running job is not released")
	for range 3 {
		r := resB.next(t, 5*time.Second)
		require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
		assert.True(t, released[r.Job], "B got released job %d", r.Job)
		assert.Equal(t, 2, r.Delivery.Attempt)
	}
	toB := time.Since(shutStart)
	assert.Less(t, toB, cfg.AckWait/6, "released jobs reach B well before AckWait")
	select {
	case err := <-shutDone:
		t.Fatalf("Shutdown returned %v while a handler ran", err)
	default:
	}
	unblockOnce.Do(func() { close(unblock) })
	require.NoError(t, <-shutDone)
	r := resA.next(t, 5*time.Second)
	assert.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, running, r.Job)
	require.Eventually(t, func() bool { return drained(js, cfg.Stream) }, 5*time.Second, 10*time.Millisecond)
	t.Logf("Shutdown released 3 held jobs; worker B finished them %v after Shutdown began (AckWait %v)",
		toB.Round(time.Millisecond), cfg.AckWait)
}

// The same idempotency key twice within the Duplicates window: the real
// server stores one message, and the Producer counts the second as a
// duplicate, not an error.
func TestSameKeyWithinTheWindowIsStoredOnce(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", Duplicates: time.Minute}
	provision(t, js, cfg)
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{Key: func(s string) string { return "order-" + s }})
	require.NoError(t, err)
	require.NoError(t, p.Submit(ctxT(t), "42"))
	require.NoError(t, p.Submit(ctxT(t), "42"), "a duplicate is not an error")
	require.NoError(t, p.SubmitBatch(ctxT(t), []string{"42", "43", "43"}))

	info := streamInfo(t, js, cfg.Stream)
	assert.Equal(t, time.Minute, info.Config.Duplicates)
	assert.Equal(t, uint64(2), info.State.Msgs, "one message per key")
	assert.Equal(t, jsqueue.ProducerStats{Published: 2, Duplicates: 3}, p.Stats())

	var mu sync.Mutex
	ids := map[string]string{}
	res := newResults[string]()
	startWorkers(t, srv, cfg, 1, func(ctx context.Context, job string) error {
		d, _ := jsqueue.DeliveryOf(ctx)
		mu.Lock()
		ids[job] = d.ID
		mu.Unlock()
		return nil
	}, jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	for range 2 {
		require.Equal(t, jsqueue.OutcomeSucceeded, res.next(t, 10*time.Second).Outcome)
	}
	require.Eventually(t, func() bool { return drained(js, cfg.Stream) }, 5*time.Second, 10*time.Millisecond)
	mu.Lock()
	assert.Equal(t, map[string]string{"42": "order-42", "43": "order-43"}, ids, "each key handled once; Delivery.ID is the key")
	mu.Unlock()
	t.Logf("5 submits of 2 keys: %d stored, producer stats %+v", info.State.Msgs, p.Stats())
}

// A stream at MaxMsgs with DiscardNew refuses new jobs: TrySubmit returns
// ErrFull at once and Submit waits until its context ends; a worker's ack
// makes room again.
func TestFullStreamRefusesNewJobs(t *testing.T) {
	srv := startNATS(t)
	js := connect(t, srv)
	cfg := jsqueue.Config{Stream: "JOBS", MaxMsgs: 3}
	provision(t, js, cfg)
	info := streamInfo(t, js, cfg.Stream)
	require.Equal(t, int64(3), info.Config.MaxMsgs)
	require.Equal(t, jetstream.DiscardNew, info.Config.Discard)

	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{})
	require.NoError(t, err)
	for _, j := range []string{"a", "b", "c"} {
		require.NoError(t, p.TrySubmit(ctxT(t), j))
	}
	start := time.Now()
	err = p.TrySubmit(ctxT(t), "d")
	tryTook := time.Since(start)
	require.ErrorIs(t, err, jsqueue.ErrFull)
	assert.Less(t, tryTook, 2*time.Second, "TrySubmit does not wait for room")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.Submit(ctx, "d")
	assert.ErrorIs(t, err, jsqueue.ErrFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, uint64(3), streamInfo(t, js, cfg.Stream).State.Msgs, "nothing stored beyond MaxMsgs")
	full := p.Stats().FullWaits

	// A worker drains the stream; then there is room again.
	res := newResults[string]()
	startWorkers(t, srv, cfg, 1, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	for range 3 {
		require.Equal(t, jsqueue.OutcomeSucceeded, res.next(t, 10*time.Second).Outcome)
	}
	require.Eventually(t, func() bool { return streamInfo(t, js, cfg.Stream).State.Msgs == 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.TrySubmit(ctxT(t), "d"))
	assert.Equal(t, jsqueue.OutcomeSucceeded, res.next(t, 10*time.Second).Outcome)
	t.Logf("MaxMsgs 3: the 4th TrySubmit returned ErrFull in %v; %d refusals counted; room again after the worker acked",
		tryTook.Round(time.Microsecond), full)
}

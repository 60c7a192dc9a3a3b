package jsqueue_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// testConfig is a queue with a short AckWait, so that leases and
// redeliveries happen within a test.
func testConfig() jsqueue.Config {
	return jsqueue.Config{Stream: "JOBS", AckWait: time.Second, MaxDeliver: 5}
}

// fastRetry retries after about d (no jitter), up to attempts attempts.
func fastRetry(d time.Duration, attempts int) *retry.Policy {
	return &retry.Policy{Schedule: retry.Schedule{Initial: d, Max: d, Jitter: retry.JitterNone}, MaxAttempts: attempts}
}

func newProducer(t testing.TB, js jetstream.JetStream, cfg jsqueue.Config) *jsqueue.Producer[string] {
	t.Helper()
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{})
	require.NoError(t, err)
	return p
}

func TestAckRemovesTheJob(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	p := newProducer(t, js, cfg)
	for _, j := range []string{"a", "b", "c"} {
		require.NoError(t, p.Submit(ctxT(t), j))
	}
	res := newResults[string]()
	var seen sync.Map
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		d, ok := jsqueue.DeliveryOf(ctx)
		require.True(t, ok)
		assert.Equal(t, 1, jsqueue.Attempt(ctx))
		assert.NotEmpty(t, d.ID)
		seen.Store(job, d.ID)
		return nil
	}, jsqueue.Options[string]{Workers: 2, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	got := map[string]bool{}
	for range 3 {
		r := res.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome, "err: %v", r.Err)
		require.NoError(t, r.Err)
		id, _ := seen.Load(r.Job)
		assert.Equal(t, id, r.Delivery.ID)
		got[r.Job] = true
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true, "c": true}, got)
	require.Eventually(t, func() bool { return streamMsgs(t, js, cfg.Stream) == 0 }, 5*time.Second, 10*time.Millisecond,
		"acked jobs are removed from the work-queue stream")
	st := w.Stats()
	assert.Equal(t, int64(3), st.Fetched)
	assert.Equal(t, int64(3), st.Succeeded)
}

func TestRetryIsADelayedRedelivery(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "flaky"))
	const delay = 300 * time.Millisecond
	var mu sync.Mutex
	var starts []time.Time
	var ids []string
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		d, _ := jsqueue.DeliveryOf(ctx)
		mu.Lock()
		starts = append(starts, time.Now())
		ids = append(ids, d.ID)
		mu.Unlock()
		if jsqueue.Attempt(ctx) < 3 {
			return errors.New("transient")
		}
		return nil
	}, jsqueue.Options[string]{Workers: 1, Retry: fastRetry(delay, 5), OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	for attempt := 1; attempt <= 2; attempt++ {
		r := res.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeRetrying, r.Outcome)
		assert.False(t, r.Outcome.Terminal())
		assert.EqualError(t, r.Err, "transient")
		assert.Equal(t, delay, r.Delay)
		assert.Equal(t, attempt, r.Delivery.Attempt)
	}
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, 3, r.Delivery.Attempt)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, starts, 3)
	for i := 1; i < 3; i++ {
		// The server holds the job back for the policy's delay (NakWithDelay).
		assert.GreaterOrEqual(t, starts[i].Sub(starts[i-1]), delay)
		assert.Less(t, starts[i].Sub(starts[i-1]), cfg.AckWait, "redelivered after the delay, not after AckWait")
	}
	assert.Equal(t, ids[0], ids[1], "the delivery ID is the same on every delivery")
	assert.Equal(t, ids[0], ids[2])
}

func TestHeartbeatsHoldTheLeaseOfALongJob(t *testing.T) {
	cfg := testConfig() // AckWait 1s
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "long"))
	var calls atomic.Int32
	res := newResults[string]()
	const runFor = 3 * time.Second // 3x AckWait
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		calls.Add(1)
		t := time.NewTimer(runFor)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}, jsqueue.Options[string]{Workers: 2, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 20*time.Second)
	require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome, "err: %v", r.Err)
	assert.Equal(t, 1, r.Delivery.Attempt)
	assert.Equal(t, int32(1), calls.Load(), "no redelivery while the heartbeats kept the lease")
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	info, err := cons.Info(ctxT(t))
	require.NoError(t, err)
	assert.Zero(t, info.NumRedelivered)
	assert.Equal(t, uint64(1), info.Delivered.Consumer, "one delivery in all")
}

func TestAttemptTimeoutIsAFailedAttempt(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "slow"))
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		if jsqueue.Attempt(ctx) == 1 {
			<-ctx.Done()
			return nil // too late: the clock decides
		}
		return nil
	}, jsqueue.Options[string]{Workers: 1, AttemptTimeout: 200 * time.Millisecond, Retry: fastRetry(50*time.Millisecond, 3), OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeRetrying, r.Outcome)
	assert.ErrorIs(t, r.Err, jsqueue.ErrAttemptTimeout)
	assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
	r = res.next(t, 10*time.Second)
	assert.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, 2, r.Delivery.Attempt)
}

func TestPanicIsRetried(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "boom"))
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		if jsqueue.Attempt(ctx) == 1 {
			panic("boom")
		}
		return nil
	}, jsqueue.Options[string]{Workers: 1, Retry: fastRetry(50*time.Millisecond, 3), OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeRetrying, r.Outcome)
	var pe *jsqueue.PanicError
	require.ErrorAs(t, r.Err, &pe)
	assert.Equal(t, "boom", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	r = res.next(t, 10*time.Second)
	assert.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, 2, r.Delivery.Attempt)
}

// deadLetters returns the messages of the dead-letter stream.
func deadLetters(t testing.TB, js jetstream.JetStream, cfg jsqueue.Config) []*jetstream.RawStreamMsg {
	t.Helper()
	stream := cfg.DeadLetterStream
	if stream == "" {
		stream = cfg.Stream + "_DLQ"
	}
	st, err := js.Stream(ctxT(t), stream)
	require.NoError(t, err)
	info, err := st.Info(ctxT(t))
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctxT(t), seq)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func TestPermanentErrorIsDeadLettered(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "poison"))
	res := newResults[string]()
	var calls atomic.Int32
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		calls.Add(1)
		return retry.Permanent(errors.New("bad job\nsecond line"))
	}, jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeFailed, r.Outcome)
	assert.True(t, r.Outcome.Terminal())
	assert.EqualError(t, r.Err, "bad job\nsecond line")
	require.Eventually(t, func() bool { return streamMsgs(t, js, cfg.Stream) == 0 }, 5*time.Second, 10*time.Millisecond,
		"a dead-lettered job is terminated: gone from the work stream")
	dl := deadLetters(t, js, cfg)
	require.Len(t, dl, 1)
	assert.Equal(t, `"poison"`, string(dl[0].Data))
	assert.Equal(t, "bad job second line", dl[0].Header.Get(jsqueue.HeaderError))
	assert.Equal(t, r.Delivery.ID, dl[0].Header.Get(jsqueue.HeaderID))
	assert.Equal(t, "1", dl[0].Header.Get(jsqueue.HeaderAttempts))
	assert.Equal(t, int32(1), calls.Load())
	parsed, err := jsqueue.ParseDeadLetter(dl[0].Subject, dl[0].Header, dl[0].Data)
	require.NoError(t, err)
	assert.Equal(t, jsqueue.DeadLetter{
		ID: r.Delivery.ID, Stream: "JOBS", StreamSeq: 1, Attempts: 1, Err: "bad job second line",
		Data: dl[0].Data, Header: dl[0].Header,
	}, parsed)
}

func TestMaxDeliverIsDeadLetteredByTheWorker(t *testing.T) {
	// The policy allows 10 attempts, the consumer 3 deliveries: the worker
	// dead-letters the third failed delivery itself, before the server gives
	// up on the job silently.
	cfg := testConfig()
	cfg.MaxDeliver = 3
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "always fails"))
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		return errors.New("nope")
	}, jsqueue.Options[string]{Workers: 1, Retry: fastRetry(20*time.Millisecond, 10), OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	for range 2 {
		require.Equal(t, jsqueue.OutcomeRetrying, res.next(t, 10*time.Second).Outcome)
	}
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeFailed, r.Outcome)
	assert.ErrorIs(t, r.Err, retry.ErrExhausted)
	var re *retry.Error
	require.ErrorAs(t, r.Err, &re)
	assert.EqualError(t, re.Last, "nope")
	assert.Equal(t, 3, r.Delivery.Attempt)
	dl := deadLetters(t, js, cfg)
	require.Len(t, dl, 1, "the dead letter, and no MAX_DELIVERIES advisory")
	assert.Equal(t, "jsqueue.JOBS.dead", dl[0].Subject)
}

func TestPolicyExhaustedIsDeadLettered(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "x"))
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		return errors.New("nope")
	}, jsqueue.Options[string]{Workers: 1, Retry: retry.NoRetry(), OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeFailed, r.Outcome)
	assert.ErrorIs(t, r.Err, retry.ErrExhausted)
	require.Len(t, deadLetters(t, js, cfg), 1)
}

func TestServerMaxDeliveriesAdvisoryIsCaptured(t *testing.T) {
	// No jsqueue worker is up: a consumer that crashes on each delivery
	// (simulated by fetching and never settling) runs the job out of
	// deliveries. The server's MAX_DELIVERIES advisory lands in the
	// dead-letter stream, where it stays until someone reads it.
	cfg := testConfig()
	cfg.MaxDeliver = 2
	cfg.AckWait = 200 * time.Millisecond
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "crasher"))
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	for i := 1; i <= 2; i++ {
		require.Eventually(t, func() bool {
			b, err := cons.Fetch(1, jetstream.FetchMaxWait(100*time.Millisecond))
			require.NoError(t, err)
			n := 0
			for range b.Messages() {
				n++
			}
			return n == 1
		}, 5*time.Second, time.Millisecond, "delivery %d", i)
	}
	// The server notices the exhausted job when a pull asks for more.
	require.Eventually(t, func() bool {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(50*time.Millisecond))
		require.NoError(t, err)
		for range b.Messages() {
			t.Error("a job delivered past MaxDeliver")
		}
		return len(deadLetters(t, js, cfg)) == 1
	}, 5*time.Second, 10*time.Millisecond)
	dl := deadLetters(t, js, cfg)[0]
	assert.Equal(t, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.workers", dl.Subject)
	assert.Contains(t, string(dl.Data), `"stream_seq":1`)
	assert.Equal(t, uint64(1), streamMsgs(t, js, cfg.Stream), "the job itself stays in the work stream")
	parsed, err := jsqueue.ParseDeadLetter(dl.Subject, dl.Header, dl.Data)
	require.NoError(t, err)
	assert.Equal(t, jsqueue.DeadLetter{Advisory: true, Stream: "JOBS", StreamSeq: 1, Attempts: 2}, parsed)
	_, err = jsqueue.ParseDeadLetter("jsqueue.JOBS.dead", nil, []byte("x"))
	assert.ErrorIs(t, err, jsqueue.ErrNotDeadLetter)
}

func TestLateSettleIsNeverSent(t *testing.T) {
	// Heartbeats are off, so the first delivery's lease passes while its
	// handler runs: the handler's context ends with ErrLeaseExpired, and its
	// permanent error is not settled (a late Term would delete the job the
	// server is redelivering). The redelivery runs and succeeds.
	cfg := testConfig() // AckWait 1s
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "job"))
	res := newResults[string]()
	var cause atomic.Value
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		if jsqueue.Attempt(ctx) == 1 {
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
			return retry.Permanent(errors.New("late"))
		}
		return nil
	}, jsqueue.Options[string]{Workers: 1, Prefetch: -1, OnResult: res.add})
	require.NoError(t, err)
	jsqueue.DisableHeartbeats(w)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeAbandoned, r.Outcome)
	assert.ErrorIs(t, r.Err, jsqueue.ErrLeaseExpired)
	assert.Equal(t, jsqueue.ErrLeaseExpired, cause.Load())
	r = res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome, "the job was not terminated late: err %v", r.Err)
	assert.Equal(t, 2, r.Delivery.Attempt)
	assert.Empty(t, deadLetters(t, js, cfg))
}

func TestShutdownReleasesBufferedJobsAtOnce(t *testing.T) {
	cfg := testConfig()
	cfg.AckWait = time.Minute // a job not released would come back only after a minute
	_, js := setup(t, cfg)
	p := newProducer(t, js, cfg)
	for _, j := range []string{"block", "b", "c", "d"} {
		require.NoError(t, p.Submit(ctxT(t), j))
	}
	res := newResults[string]()
	unblock := make(chan struct{})
	started := make(chan string, 4)
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		started <- job
		if job == "block" {
			<-unblock
		}
		return nil
	}, jsqueue.Options[string]{Workers: 1, Prefetch: 3, OnResult: res.add})
	require.NoError(t, err)
	first := <-started
	require.Eventually(t, func() bool { return w.Stats().Held == 4 }, 10*time.Second, time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- w.Shutdown(context.Background()) }()
	released := map[string]bool{}
	for range 3 {
		r := res.next(t, 5*time.Second)
		require.Equal(t, jsqueue.OutcomeReleased, r.Outcome, "job %s", r.Job)
		assert.ErrorIs(t, r.Err, jsqueue.ErrShutdown)
		released[r.Job] = true
	}
	assert.False(t, released[first], "the running job is not released")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a handler ran", err)
	default:
	}
	close(unblock)
	require.NoError(t, <-done)
	r := res.next(t, 5*time.Second)
	assert.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
	assert.Equal(t, first, r.Job)

	// Another worker gets the released jobs now, not after AckWait.
	res2 := newResults[string]()
	start := time.Now()
	w2, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 3, OnResult: res2.add})
	require.NoError(t, err)
	shutdown(t, w2)
	for range 3 {
		r := res2.next(t, 10*time.Second)
		require.Equal(t, jsqueue.OutcomeSucceeded, r.Outcome)
		assert.True(t, released[r.Job], "job %s", r.Job)
		assert.Equal(t, 2, r.Delivery.Attempt)
	}
	assert.Less(t, time.Since(start), cfg.AckWait/2)
}

func TestForcedShutdownReleasesRunningJobs(t *testing.T) {
	cfg := testConfig()
	cfg.AckWait = time.Minute
	_, js := setup(t, cfg)
	require.NoError(t, newProducer(t, js, cfg).Submit(ctxT(t), "stuck"))
	res := newResults[string]()
	started := make(chan struct{})
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}, jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = w.Shutdown(ctx)
	assert.ErrorIs(t, err, jsqueue.ErrShutdown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	r := res.next(t, time.Second)
	assert.Equal(t, jsqueue.OutcomeReleased, r.Outcome)
	assert.ErrorIs(t, r.Err, jsqueue.ErrShutdown)
	assert.ErrorIs(t, r.Err, workqueue.ErrShutdown)
	// Released with Nak: redelivered at once.
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	b, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	n := 0
	for m := range b.Messages() {
		n++
		require.NoError(t, m.Ack())
	}
	assert.Equal(t, 1, n)
}

func TestUndecodableJobIsDeadLettered(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	_, err := js.Publish(ctxT(t), "jsqueue.JOBS", []byte("{not json"))
	require.NoError(t, err)
	res := newResults[int]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job int) error {
		t.Error("handler called for an undecodable job")
		return nil
	}, jsqueue.Options[int]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	r := res.next(t, 10*time.Second)
	require.Equal(t, jsqueue.OutcomeFailed, r.Outcome)
	assert.ErrorIs(t, r.Err, jsqueue.ErrUndecodable)
	assert.Equal(t, "JOBS-1", r.Delivery.ID, "no Nats-Msg-Id: the ID is stream-seq")
	require.Len(t, deadLetters(t, js, cfg), 1)
}

func TestCloseLetsHeldJobsFinish(t *testing.T) {
	cfg := testConfig()
	cfg.AckWait = time.Minute
	_, js := setup(t, cfg)
	p := newProducer(t, js, cfg)
	for _, j := range []string{"a", "b"} {
		require.NoError(t, p.Submit(ctxT(t), j))
	}
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 1, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	require.Equal(t, jsqueue.OutcomeSucceeded, res.next(t, 10*time.Second).Outcome)
	require.Equal(t, jsqueue.OutcomeSucceeded, res.next(t, 10*time.Second).Outcome)
	w.Close()
	require.NoError(t, p.Submit(ctxT(t), "after close"))
	require.NoError(t, w.Shutdown(ctxT(t)))
	// A pull in flight at Close may have brought the job: it was given back
	// once (without running), after the pull ended.
	later := res.snapshot()[2:]
	require.LessOrEqual(t, len(later), 1)
	for _, r := range later {
		assert.Equal(t, jsqueue.OutcomeReleased, r.Outcome)
		assert.Equal(t, "after close", r.Job)
		assert.Equal(t, 1, r.Delivery.Attempt)
	}
	// Either way it can be fetched at once, not after AckWait.
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	b, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	n := 0
	for m := range b.Messages() {
		n++
		assert.Equal(t, `"after close"`, string(m.Data()))
		require.NoError(t, m.Ack())
	}
	assert.Equal(t, 1, n)
}

func TestHeldDeliveriesAreBoundedByWorkersPlusPrefetch(t *testing.T) {
	cfg := testConfig()
	cfg.AckWait = time.Minute
	_, js := setup(t, cfg)
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[int]{})
	require.NoError(t, err)
	jobs := make([]int, 50)
	require.NoError(t, p.SubmitBatch(ctxT(t), jobs))
	release := make(chan struct{})
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job int) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, jsqueue.Options[int]{Workers: 2, Prefetch: 3})
	require.NoError(t, err)
	shutdown(t, w)
	defer close(release)
	cons, err := js.Consumer(ctxT(t), cfg.Stream, "workers")
	require.NoError(t, err)
	// Called from require.Never's goroutine, which may outlive the test by
	// one tick: no require, no test-scoped context.
	ackPending := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		info, err := cons.Info(ctx)
		if err != nil {
			return -1
		}
		return info.NumAckPending
	}
	require.Eventually(t, func() bool { return w.Stats().Held == 5 && w.Stats().Running == 2 }, 10*time.Second, time.Millisecond)
	// Over several pulls' time, neither the worker nor the server counts more.
	require.Never(t, func() bool { return w.Stats().Held > 5 || ackPending() > 5 }, time.Second, 20*time.Millisecond)
	assert.Equal(t, 5, ackPending())
}

// upperCodec is a Codec that is not JSON.
type upperCodec struct{}

func (upperCodec) Encode(s string) ([]byte, error) { return []byte(strings.ToUpper(s)), nil }
func (upperCodec) Decode(b []byte) (string, error) { return string(b), nil }

func TestCustomCodec(t *testing.T) {
	cfg := testConfig()
	_, js := setup(t, cfg)
	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[string]{Codec: upperCodec{}})
	require.NoError(t, err)
	require.NoError(t, p.Submit(ctxT(t), "hello"))
	res := newResults[string]()
	w, err := jsqueue.New(ctxT(t), js, cfg, func(ctx context.Context, job string) error { return nil },
		jsqueue.Options[string]{Workers: 1, Codec: upperCodec{}, OnResult: res.add})
	require.NoError(t, err)
	shutdown(t, w)
	assert.Equal(t, "HELLO", res.next(t, 10*time.Second).Job)
}

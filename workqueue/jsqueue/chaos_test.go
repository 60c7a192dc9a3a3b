package jsqueue_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// chaosJobs is the size of the chaos runs: JSQUEUE_CHAOS_JOBS if set (the
// issue's full run is 100000), else 10000, or 2000 with -short or under the
// race detector (which slows the worker processes too).
func chaosJobs(t *testing.T) int {
	if s := os.Getenv("JSQUEUE_CHAOS_JOBS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err)
		return n
	}
	if testing.Short() || raceEnabled {
		return 2000
	}
	return 10000
}

// child is a process running this test binary in a chaos role.
type child struct {
	name   string
	cmd    *exec.Cmd
	ready  chan struct{}
	exited chan struct{}
	mu     sync.Mutex
	stats  *jsqueue.Stats
	stderr strings.Builder
}

func startChild(t *testing.T, name string, env ...string) *child {
	t.Helper()
	c := &child{name: name, ready: make(chan struct{}), exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &lockedWriter{mu: &c.mu, b: &c.stderr}
	dieWithParent(c.cmd)
	out, err := c.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, c.cmd.Start())
	go func() {
		defer close(c.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "READY":
				close(c.ready)
			case strings.HasPrefix(line, "STATS "):
				var st jsqueue.Stats
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "STATS ")), &st) == nil {
					c.mu.Lock()
					c.stats = &st
					c.mu.Unlock()
				}
			}
		}
		_ = c.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			c.mu.Lock()
			t.Logf("%s stderr:\n%s", c.name, c.stderr.String())
			c.mu.Unlock()
		}
	})
	select {
	case <-c.ready:
	case <-c.exited:
		t.Fatalf("%s exited before READY: %s", name, c.stderrText())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not ready", name)
	}
	return c
}

func (c *child) stderrText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (c *child) kill(t *testing.T) {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGKILL))
	<-c.exited
}

// stop asks the child to shut down (SIGTERM) and returns its stats.
func (c *child) stop(t *testing.T) jsqueue.Stats {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not shut down", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NotNil(t, c.stats, "%s printed no stats: %s", c.name, c.stderr.String())
	return *c.stats
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// chaosRun is a broker process, a JetStream connection to it and the queue.
type chaosRun struct {
	t      *testing.T
	dir    string
	port   int
	url    string
	broker *child
	js     jetstream.JetStream
	cfg    jsqueue.Config
}

// newChaosRun starts a broker and provisions chaosConfig() on it, with the
// given AckWait if positive (workers read it from the server).
func newChaosRun(t *testing.T, ackWait time.Duration) *chaosRun {
	r := &chaosRun{t: t, dir: t.TempDir(), port: freePort(t), cfg: chaosConfig()}
	if ackWait > 0 {
		r.cfg.AckWait = ackWait
	}
	r.url = "nats://127.0.0.1:" + strconv.Itoa(r.port)
	r.startBroker()
	nc, err := nats.Connect(r.url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	r.js, err = jetstream.New(nc)
	require.NoError(t, err)
	require.NoError(t, jsqueue.Provision(ctxT(t), r.js, r.cfg))
	_, err = r.js.CreateOrUpdateStream(ctxT(t), jetstream.StreamConfig{Name: chaosDoneStream, Subjects: []string{chaosDoneSubject}})
	require.NoError(t, err)
	return r
}

func (r *chaosRun) startBroker() {
	r.broker = startChild(r.t, "broker", chaosRoleEnv+"=broker", chaosDirEnv+"="+r.dir, chaosPortEnv+"="+strconv.Itoa(r.port))
}

func (r *chaosRun) startWorker(name string) *child {
	return startChild(r.t, name, chaosRoleEnv+"=worker", chaosURLEnv+"="+r.url)
}

// submit submits jobs 0..n-1, each keyed by its number.
func (r *chaosRun) submit(n int) {
	p, err := jsqueue.NewProducer(r.js, r.cfg, jsqueue.ProducerOptions[chaosJob]{Key: func(j chaosJob) string { return "job-" + strconv.Itoa(j.N) }})
	require.NoError(r.t, err)
	jobs := make([]chaosJob, n)
	for i := range jobs {
		jobs[i] = chaosJob{N: i}
	}
	require.NoError(r.t, p.SubmitBatch(ctxT(r.t), jobs))
}

// doneRecords returns how many completion records the workers stored.
func (r *chaosRun) doneRecords() uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := r.js.Stream(ctx, chaosDoneStream)
	if err != nil {
		return 0 // the broker is restarting
	}
	return st.CachedInfo().State.Msgs
}

// tally reads every completion record and returns how many jobs of 0..n-1
// never completed and how many completions were repeats.
func (r *chaosRun) tally(n int) (lost []int, duplicates int) {
	cons, err := r.js.OrderedConsumer(ctxT(r.t), chaosDoneStream, jetstream.OrderedConsumerConfig{})
	require.NoError(r.t, err)
	total := int(r.doneRecords())
	seen := make(map[string]int, n)
	for read := 0; read < total; {
		b, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		require.NoError(r.t, err)
		for m := range b.Messages() {
			seen[string(m.Data())]++
			read++
		}
		require.NoError(r.t, b.Error())
	}
	for i := range n {
		c := seen["job-"+strconv.Itoa(i)]
		if c == 0 {
			lost = append(lost, i)
		}
		duplicates += max(c-1, 0)
	}
	return lost, duplicates
}

// waitDone waits until every job 0..n-1 has completed at least once and the
// work stream is empty.
func (r *chaosRun) waitDone(n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		if r.doneRecords() >= uint64(n) {
			lost, _ := r.tally(n)
			if len(lost) == 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				st, err := r.js.Stream(ctx, r.cfg.Stream)
				cancel()
				if err == nil && st.CachedInfo().State.Msgs == 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			lost, _ := r.tally(n)
			r.t.Fatalf("not done after %v: %d records, %d jobs never completed", timeout, r.doneRecords(), len(lost))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRecords waits until at least k completion records exist.
func (r *chaosRun) waitRecords(k uint64) {
	require.Eventually(r.t, func() bool { return r.doneRecords() >= k }, 2*time.Minute, 5*time.Millisecond)
}

func TestChaosWorkerKilled(t *testing.T) {
	n := chaosJobs(t)
	r := newChaosRun(t, 0)
	start := time.Now()
	r.submit(n)
	submitted := time.Since(start)
	workers := []*child{r.startWorker("worker-0"), r.startWorker("worker-1"), r.startWorker("worker-2")}
	r.waitRecords(uint64(n / 3))
	atKill := r.doneRecords()
	workers[0].kill(t) // SIGKILL: no settle, no release
	r.waitDone(n, 2*time.Minute)
	elapsed := time.Since(start)
	lost, dups := r.tally(n)
	var survivors []jsqueue.Stats
	for _, w := range workers[1:] {
		survivors = append(survivors, w.stop(t))
	}
	abandoned := int64(0)
	for _, st := range survivors {
		abandoned += st.Abandoned
		assert.Zero(t, st.Failed)
		assert.Zero(t, st.Held)
	}
	t.Logf("chaos (worker SIGKILL): jobs=%d workers=3x%d handlers (+%d prefetch) kills=1 (at %d completions) lost=%d duplicates=%d survivors=%+v submit=%v total=%v (%.0f jobs/s)",
		n, chaosWorkers, chaosPrefetch, atKill, len(lost), dups, survivors, submitted.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	assert.Empty(t, lost, "jobs lost")
	// Only deliveries the killed process held (at most Workers+Prefetch) can
	// have run to completion without an ack, plus any a survivor abandoned.
	assert.LessOrEqual(t, int64(dups), int64(chaosWorkers+chaosPrefetch)+abandoned, "duplicates bounded by what was in flight")
	assert.Empty(t, deadLetters(t, r.js, r.cfg))
}

func TestChaosBrokerKilled(t *testing.T) {
	n := chaosJobs(t)
	r := newChaosRun(t, 0)
	start := time.Now()
	r.submit(n)
	workers := []*child{r.startWorker("worker-0"), r.startWorker("worker-1"), r.startWorker("worker-2")}
	r.waitRecords(uint64(n / 3))
	atKill := r.doneRecords()
	r.broker.kill(t) // SIGKILL the broker, file storage not synced
	r.startBroker()  // same port, same store
	r.waitDone(n, 2*time.Minute)
	elapsed := time.Since(start)
	lost, dups := r.tally(n)
	var stats []jsqueue.Stats
	for _, w := range workers {
		stats = append(stats, w.stop(t))
	}
	t.Logf("chaos (broker SIGKILL + restart): jobs=%d kills=1 (at %d completions) lost=%d duplicates=%d workers=%+v total=%v",
		n, atKill, len(lost), dups, stats, elapsed.Round(time.Millisecond))
	assert.Empty(t, lost, "jobs lost")
	assert.Empty(t, deadLetters(t, r.js, r.cfg))
}

func TestChaosPoisonJobCrashesItsWorkers(t *testing.T) {
	// A job that kills its worker process on every delivery: each crash uses
	// up a delivery, the server gives up after MaxDeliver (3), and the
	// MAX_DELIVERIES advisory lands in the dead-letter stream. Crashed
	// workers are restarted, as a supervisor would. (A crash also uses up a
	// delivery of every other job the process held, so the poison job is
	// submitted once the others are done; see the package doc.)
	r := newChaosRun(t, 500*time.Millisecond)
	p, err := jsqueue.NewProducer(r.js, r.cfg, jsqueue.ProducerOptions[chaosJob]{Key: func(j chaosJob) string { return "job-" + strconv.Itoa(j.N) }})
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, p.Submit(ctxT(t), chaosJob{N: i}))
	}
	w := r.startWorker("worker-0")
	r.waitDone(10, time.Minute)
	require.NoError(t, p.Submit(ctxT(t), chaosJob{N: -1, Poison: true}))
	crashes := 0
	deadline := time.Now().Add(time.Minute)
	for {
		if w == nil {
			w = r.startWorker(fmt.Sprintf("worker-%d", crashes+1))
		}
		dl := deadLetters(t, r.js, r.cfg)
		if len(dl) > 0 {
			require.Len(t, dl, 1)
			assert.Equal(t, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CHAOS.workers", dl[0].Subject)
			assert.Contains(t, string(dl[0].Data), `"stream_seq":11`)
			assert.Contains(t, string(dl[0].Data), `"deliveries":3`)
			break
		}
		select {
		case <-w.exited:
			crashes++
			w = nil
		case <-time.After(20 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "no dead letter after %d crashes", crashes)
	}
	assert.Equal(t, 3, crashes, "one crash per delivery, MaxDeliver deliveries")
	lost, dups := r.tally(10)
	assert.Empty(t, lost)
	t.Logf("poison: crashes=%d duplicates among the 10 others=%d", crashes, dups)
	if w != nil {
		w.stop(t)
	}
}

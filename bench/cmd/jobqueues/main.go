// Command jobqueues compares workqueue/jsqueue (NATS JetStream, file storage)
// with the job queues Go users would otherwise pick: asynq on redis-server and
// river on PostgreSQL, on this machine, in one run.
//
// Each engine gets its own server, started here as a child process on a free
// 127.0.0.1 port with its data in a fresh temporary directory: redis-server
// and PostgreSQL from the Debian packages, nats-server embedded in a
// re-execution of this binary. For each run and each engine, two fresh queues
// are used:
//
//   - split: enqueue -jobs tiny jobs (an int each) with no handler running
//     (enqueue rate), then start -workers handlers and time until every job
//     was handled (process rate, from the start of the workers);
//   - end-to-end: start the handlers, then enqueue; time from the start of
//     enqueueing until the last job was handled at least once.
//
// Every handler marks its job's number; a job never marked is lost (the run
// fails), a job marked twice is a duplicate. Enqueueing uses each engine's
// batch API where it has one (river InsertMany, jsqueue SubmitBatch, both in
// batches of -batch jobs); asynq has none, so -producers goroutines call
// Enqueue concurrently.
//
//	go run ./cmd/jobqueues                  # 1e5 jobs, 8 handlers, 3 runs, medians
//	go run ./cmd/jobqueues -jobs 2000 -runs 1 -engines jsqueue,asynq
//
// It exits 1 if jsqueue's end-to-end rate is below -target times a peer's
// (medians), 2 on an error or a lost job, and skips (saying how to install
// it) an engine whose server binary is missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

var (
	jobs           = flag.Int("jobs", 100_000, "jobs per queue")
	workers        = flag.Int("workers", 8, "handlers per engine (asynq Concurrency, river MaxWorkers, jsqueue Workers)")
	runs           = flag.Int("runs", 3, "runs per engine; the table shows medians")
	batch          = flag.Int("batch", 1000, "jobs per InsertMany / SubmitBatch call")
	producers      = flag.Int("producers", 4, "goroutines calling asynq's Enqueue")
	engines        = flag.String("engines", "jsqueue,asynq,river", "engines to run, comma-separated")
	target         = flag.Float64("target", 2, "required ratio of jsqueue's end-to-end jobs/s to each peer's")
	timeout        = flag.Duration("timeout", 10*time.Minute, "time limit of one phase")
	prefetch       = flag.Int("prefetch", 0, "jsqueue Options.Prefetch (0: its default, Workers)")
	natsSyncAlways = flag.Bool("nats-sync-always", false, "run nats-server with sync_interval: always (fsync on every write) instead of its default (every 2 min)")
	pollEvery      = flag.Duration("poll", time.Millisecond, "asynq TaskCheckInterval and river FetchCooldown (their defaults, 1s and 100ms, cap river at 8 jobs per 100ms with 8 handlers)")
)

// engine is one job queue with its server.
type engine interface {
	Name() string
	// Start starts the server; Close stops it and removes its data.
	Start(ctx context.Context) error
	Close()
	// Versions names the server and client library versions.
	Versions() string
	// Durability says when an enqueued job survives what.
	Durability() string
	// NewQueue prepares an empty queue named q.
	NewQueue(ctx context.Context, q string) error
	// Enqueue stores jobs 0..n-1 in q.
	Enqueue(ctx context.Context, q string, n int) error
	// Work starts handlers on q that call t.hit with each job's number; stop
	// stops them.
	Work(ctx context.Context, q string, t *tally) (stop func() error, err error)
}

// tally records which jobs were handled.
type tally struct {
	seen     []atomic.Int32
	distinct atomic.Int64
	done     chan struct{}
	end      time.Time // when the last distinct job was handled; set before done is closed
}

func newTally(n int) *tally {
	return &tally{seen: make([]atomic.Int32, n), done: make(chan struct{})}
}

func (t *tally) hit(i int) {
	if i < 0 || i >= len(t.seen) {
		return
	}
	if t.seen[i].Add(1) == 1 && t.distinct.Add(1) == int64(len(t.seen)) {
		t.end = time.Now()
		close(t.done)
	}
}

// counts returns the jobs never handled and the handlings beyond the first.
func (t *tally) counts() (lost, dups int) {
	for i := range t.seen {
		switch c := t.seen[i].Load(); {
		case c == 0:
			lost++
		case c > 1:
			dups += int(c - 1)
		}
	}
	return lost, dups
}

func (t *tally) wait(d time.Duration) error {
	select {
	case <-t.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%d of %d jobs handled after %s", t.distinct.Load(), len(t.seen), d)
	}
}

// result is one run of one engine.
type result struct {
	enqueue, process, e2e float64 // jobs/s
	lost, dups            int     // over both phases
}

func main() {
	if natsChild() {
		return
	}
	flag.Parse()
	os.Exit(run())
}

func run() int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	all := map[string]engine{"jsqueue": &jsEngine{}, "asynq": &asynqEngine{}, "river": &riverEngine{}}
	var active []engine
	for name := range strings.SplitSeq(*engines, ",") {
		e, ok := all[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "jobqueues: unknown engine %q\n", name)
			return 2
		}
		if err := e.Start(ctx); err != nil {
			var skip *skipError
			if errors.As(err, &skip) {
				fmt.Fprintf(os.Stderr, "%s: SKIPPED, %s; its target is not checked\n", e.Name(), skip.msg)
				continue
			}
			fmt.Fprintf(os.Stderr, "%s: %v\n", e.Name(), err)
			closeAll(active)
			return 2
		}
		active = append(active, e)
	}
	defer closeAll(active)

	fmt.Printf("jobqueues: %d jobs, %d handlers, %d runs, %s/%s, %d cores, %s, %s\n",
		*jobs, *workers, *runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"))
	for _, e := range active {
		fmt.Printf("  %-8s %s\n           durability: %s\n", e.Name(), e.Versions(), e.Durability())
	}

	results := map[string][]result{}
	failed := false
	for r := range *runs {
		// Rotate the order so that no engine always runs first or last.
		for k := range active {
			e := active[(k+r)%len(active)]
			res, err := runOnce(ctx, e, r)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s run %d: %v\n", e.Name(), r+1, err)
				failed = true
				if ctx.Err() != nil {
					return 2
				}
				continue
			}
			fmt.Fprintf(os.Stderr, "  run %d %-8s enqueue %8.0f/s  process %8.0f/s  end-to-end %8.0f/s  lost %d  duplicates %d\n",
				r+1, e.Name(), res.enqueue, res.process, res.e2e, res.lost, res.dups)
			if res.lost > 0 {
				failed = true
			}
			results[e.Name()] = append(results[e.Name()], res)
		}
	}

	medians := map[string]result{}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nengine (median of %d)\tend-to-end jobs/s\tenqueue jobs/s\tprocess jobs/s\tlost\tduplicates\tjsqueue/engine end-to-end\t\n", *runs)
	for _, e := range active {
		rs := results[e.Name()]
		if len(rs) == 0 {
			continue
		}
		m := result{
			enqueue: median(rs, func(r result) float64 { return r.enqueue }),
			process: median(rs, func(r result) float64 { return r.process }),
			e2e:     median(rs, func(r result) float64 { return r.e2e }),
		}
		for _, r := range rs {
			m.lost += r.lost
			m.dups += r.dups
		}
		medians[e.Name()] = m
	}
	js, haveJS := medians["jsqueue"]
	for _, e := range active {
		m, ok := medians[e.Name()]
		if !ok {
			continue
		}
		ratio := "-"
		if haveJS && m.e2e > 0 {
			ratio = fmt.Sprintf("%.2f×", js.e2e/m.e2e)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%d\t%d\t%s\t\n", e.Name(), m.e2e, m.enqueue, m.process, m.lost, m.dups, ratio)
	}
	_ = tw.Flush()
	fmt.Println("(lost and duplicates: totals over all runs and both phases)")

	missed := false
	if haveJS {
		for _, e := range active {
			m, ok := medians[e.Name()]
			if !ok || e.Name() == "jsqueue" {
				continue
			}
			ratio := js.e2e / m.e2e
			verdict := "met"
			if ratio < *target {
				verdict = fmt.Sprintf("MISSED by %.0f%%", 100*(1 - ratio / *target))
				missed = true
			}
			fmt.Printf("target: jsqueue end-to-end ≥ %.1f× %s: %.2f× — %s\n", *target, e.Name(), ratio, verdict)
		}
	}
	switch {
	case failed:
		return 2
	case missed:
		return 1
	}
	return 0
}

func closeAll(es []engine) {
	for _, e := range es {
		e.Close()
	}
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// runOnce runs both phases of one engine on fresh queues.
func runOnce(ctx context.Context, e engine, r int) (result, error) {
	var res result
	n := *jobs

	// Split: enqueue with nothing running, then process.
	q := fmt.Sprintf("split%d", r)
	if err := e.NewQueue(ctx, q); err != nil {
		return res, err
	}
	t0 := time.Now()
	if err := e.Enqueue(ctx, q, n); err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	res.enqueue = float64(n) / time.Since(t0).Seconds()
	t := newTally(n)
	t1 := time.Now()
	stop, err := e.Work(ctx, q, t)
	if err != nil {
		return res, fmt.Errorf("work: %w", err)
	}
	werr := t.wait(*timeout)
	if err := stop(); err != nil && werr == nil {
		werr = fmt.Errorf("stop: %w", err)
	}
	if werr != nil {
		return res, werr
	}
	res.process = float64(n) / t.end.Sub(t1).Seconds()
	lost, dups := t.counts()
	res.lost, res.dups = lost, dups

	// End to end: handlers up, then enqueue; until the last job is handled.
	q = fmt.Sprintf("e2e%d", r)
	if err := e.NewQueue(ctx, q); err != nil {
		return res, err
	}
	t = newTally(n)
	stop, err = e.Work(ctx, q, t)
	if err != nil {
		return res, fmt.Errorf("work: %w", err)
	}
	t0 = time.Now()
	eerr := e.Enqueue(ctx, q, n)
	if eerr == nil {
		werr = t.wait(*timeout)
	}
	if err := stop(); err != nil && werr == nil {
		werr = fmt.Errorf("stop: %w", err)
	}
	if err := errors.Join(eerr, werr); err != nil {
		return res, err
	}
	res.e2e = float64(n) / t.end.Sub(t0).Seconds()
	lost, dups = t.counts()
	res.lost += lost
	res.dups += dups
	return res, nil
}

// skipError says an engine cannot run here, and how to fix that.
type skipError struct{ msg string }

func (e *skipError) Error() string { return e.msg }

// child is a server process.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	err  error
}

func startChild(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

// stop signals the process and waits for it to exit.
func (c *child) stop(sig os.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// exited returns an error with the output's tail if the process has exited.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%v): %s", c.name, c.err, c.out.String())
	default:
		return nil
	}
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 4096 {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-4096:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

var _ io.Writer = (*tailBuffer)(nil)

// waitReady calls ready until it succeeds, the child exits or d passes.
func waitReady(ctx context.Context, c *child, d time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(d)
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if xerr := c.exited(); xerr != nil {
			return xerr
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready after %s: %v; output: %s", c.name, d, err, c.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commandVersion returns the first line of a command's output.
func commandVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

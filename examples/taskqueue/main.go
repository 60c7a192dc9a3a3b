// Command taskqueue shows a workqueue.Queue doing real-world chores: 200 jobs
// go through a bounded buffer to 5 workers; about 15% of attempts fail
// transiently and are retried with jittered backoff (without holding a
// worker), a few jobs are "poison" and fail permanently straight to the dead
// letter list, every attempt has a timeout, and the program joins the queue
// (Wait) before shutting it down gracefully. The outcome counts printed at the
// end always add up to the number of jobs submitted.
//
// Which attempts fail depends only on -seed, so a run is reproducible:
//
//	go run ./examples/taskqueue
//	go run ./examples/taskqueue -jobs 1000 -workers 16 -seed 42
//
// Press Ctrl+C during a run: submission stops, running jobs get -grace to
// finish, and whatever had not finished is reported canceled or dropped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

type config struct {
	Jobs       int
	Workers    int
	Capacity   int
	FailRate   float64       // chance that one attempt fails transiently
	PoisonRate float64       // chance that a job can never succeed
	Work       time.Duration // upper bound of one attempt's simulated work
	Grace      time.Duration // how long Shutdown waits after Ctrl+C
	Seed       uint64
}

// summary counts every submitted job exactly once in one of the outcome
// fields, so Submitted == OK + RetriedOK + DeadPermanent + DeadExhausted +
// Canceled + Dropped.
type summary struct {
	Submitted     int64
	OK            int64 // succeeded on the first attempt
	RetriedOK     int64 // succeeded after one or more retries
	DeadPermanent int64 // failed with a permanent error: dead-lettered at once
	DeadExhausted int64 // still failing when the retry policy ran out
	Canceled      int64 // running or awaiting a retry at a forced shutdown
	Dropped       int64 // never started before a forced shutdown
	Retries       int64
	DeadLetters   []int // IDs of failed jobs, for a human to look at
	Elapsed       time.Duration
}

func (s *summary) total() int64 {
	return s.OK + s.RetriedOK + s.DeadPermanent + s.DeadExhausted + s.Canceled + s.Dropped
}

func main() {
	var cfg config
	flag.IntVar(&cfg.Jobs, "jobs", 200, "number of jobs to submit")
	flag.IntVar(&cfg.Workers, "workers", 5, "number of worker goroutines")
	flag.IntVar(&cfg.Capacity, "capacity", 20, "jobs that may wait in the queue; Submit blocks beyond")
	flag.Float64Var(&cfg.FailRate, "fail", 0.15, "probability that one attempt fails transiently")
	flag.Float64Var(&cfg.PoisonRate, "poison", 0.02, "probability that a job fails permanently")
	flag.DurationVar(&cfg.Work, "work", 20*time.Millisecond, "maximum simulated work per attempt")
	flag.DurationVar(&cfg.Grace, "grace", 2*time.Second, "how long to let running jobs finish after Ctrl+C")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed fails the same attempts")
	flag.Parse()

	// Ctrl+C cancels ctx: stop submitting, then shut down within -grace.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "taskqueue:", err)
		os.Exit(1)
	}
}

// task is one unit of work. Keep jobs small values: the queue copies them.
type task struct{ ID int }

var (
	errTransient = errors.New("upstream temporarily unavailable")
	errPoison    = errors.New("malformed payload")
)

// worker is the fake job handler. Whether attempt n of job id fails is drawn
// from a generator seeded with (seed, id, n), so it does not depend on which
// worker runs the attempt or when.
type worker struct {
	cfg      config
	attempts []atomic.Int32 // attempts made so far, per job ID
}

func (w *worker) handle(ctx context.Context, t task) error {
	n := w.attempts[t.ID].Add(1)
	rnd := rand.New(rand.NewPCG(w.cfg.Seed, uint64(t.ID)<<8|uint64(n)))
	poison := rand.New(rand.NewPCG(w.cfg.Seed, uint64(t.ID)<<8)).Float64() < w.cfg.PoisonRate

	// Simulated work that respects cancellation (JobTimeout, Shutdown).
	work := time.Duration(rnd.Int64N(int64(w.cfg.Work) + 1))
	select {
	case <-time.After(work):
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	switch {
	case poison:
		// Retrying cannot help: say so, and the job is dead-lettered now.
		return retry.Permanent(fmt.Errorf("job %d: %w", t.ID, errPoison))
	case rnd.Float64() < w.cfg.FailRate:
		return fmt.Errorf("job %d attempt %d: %w", t.ID, n, errTransient)
	}
	return nil
}

func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if cfg.Jobs < 0 || cfg.Workers < 1 || cfg.Capacity < 1 {
		return summary{}, errors.New("need -jobs >= 0, -workers >= 1 and -capacity >= 1")
	}
	w := &worker{cfg: cfg, attempts: make([]atomic.Int32, cfg.Jobs)}

	var (
		mu sync.Mutex
		s  summary
	)
	// OnDone sees every accepted job exactly once: this is where outcomes
	// are counted and where a real program would write its dead letters.
	onDone := func(o workqueue.Outcome[task]) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case o.Status == workqueue.Succeeded && o.Attempts == 1:
			s.OK++
		case o.Status == workqueue.Succeeded:
			s.RetriedOK++
		case o.Status == workqueue.Failed:
			if errors.Is(o.Err, retry.ErrExhausted) {
				s.DeadExhausted++
			} else {
				s.DeadPermanent++
			}
			s.DeadLetters = append(s.DeadLetters, o.Job.ID)
			fmt.Fprintf(out, "dead letter: job %3d after %d attempt(s): %v\n", o.Job.ID, o.Attempts, o.Err)
		case o.Status == workqueue.Canceled:
			s.Canceled++
		case o.Status == workqueue.Dropped:
			s.Dropped++
		}
	}

	q, err := workqueue.New(w.handle, workqueue.Options[task]{
		Workers:  cfg.Workers,
		Capacity: cfg.Capacity, // bounded: Submit blocks when it is full
		Retry: &retry.Policy{
			MaxAttempts: 4, // the first attempt and up to 3 retries
			Initial:     10 * time.Millisecond,
			Max:         200 * time.Millisecond,
			Jitter:      retry.JitterFull, // the default, spelled out
		},
		JobTimeout: 2 * time.Second, // no attempt may hang forever
		OnDone:     onDone,
	})
	if err != nil {
		return summary{}, err
	}

	start := time.Now()
	for id := range cfg.Jobs {
		// Submit blocks while the buffer is full: the producer runs only as
		// fast as the workers. It returns early if ctx ends (Ctrl+C).
		if err := q.Submit(ctx, task{ID: id}); err != nil {
			fmt.Fprintf(out, "stopped submitting after %d jobs: %v\n", id, err)
			break
		}
	}
	// Join: wait for every accepted job, retries included, without closing
	// the queue (a long-running program would keep submitting).
	if err := q.Wait(ctx); err != nil {
		fmt.Fprintln(out, "interrupted; shutting down within", cfg.Grace)
	}
	// Graceful shutdown: close intake, let the backlog drain for at most
	// Grace, then cancel what still runs. It returns once every worker exited.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	shutdownErr := q.Shutdown(sctx)

	s.Elapsed = time.Since(start)
	st := q.Stats()
	s.Submitted, s.Retries = st.Submitted, st.Retries
	slices.Sort(s.DeadLetters)
	printSummary(out, &s)
	if s.total() != s.Submitted {
		return s, fmt.Errorf("outcomes do not add up: %d reported, %d submitted", s.total(), s.Submitted)
	}
	if shutdownErr != nil {
		return s, shutdownErr
	}
	return s, ctx.Err()
}

func printSummary(out io.Writer, s *summary) {
	fmt.Fprintf(out, "\n%-28s %6d\n", "submitted", s.Submitted)
	for _, row := range []struct {
		name string
		n    int64
	}{
		{"succeeded, first attempt", s.OK},
		{"succeeded after retries", s.RetriedOK},
		{"dead-lettered (permanent)", s.DeadPermanent},
		{"dead-lettered (exhausted)", s.DeadExhausted},
		{"canceled at shutdown", s.Canceled},
		{"dropped at shutdown", s.Dropped},
	} {
		fmt.Fprintf(out, "  %-26s %6d\n", row.name, row.n)
	}
	fmt.Fprintf(out, "%-28s %6d\n", "total outcomes", s.total())
	fmt.Fprintf(out, "%-28s %6d\n", "retries", s.Retries)
	fmt.Fprintf(out, "%-28s %v\n", "dead letters", s.DeadLetters)
	fmt.Fprintf(out, "%-28s %v\n", "elapsed", s.Elapsed.Round(time.Millisecond))
}

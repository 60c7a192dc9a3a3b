// Command taskqueue shows a workqueue.Queue doing real-world chores: 200 jobs
// go through a bounded buffer to 5 workers; about 15% of attempts fail
// transiently and are retried with jittered backoff (without holding a
// worker), a few jobs are "poison" and fail permanently straight to the dead
// letter list, every attempt has a timeout, and the program joins the queue
// (Wait) before shutting it down gracefully. The outcome counts printed at the
// end always add up to the number of jobs asked for.
//
// Which attempts fail depends only on -seed, so a run is reproducible:
//
//	go run ./examples/taskqueue
//	go run ./examples/taskqueue -jobs 1000 -workers 16 -seed 42
//
// Press Ctrl+C during a run: submission stops, running jobs get -grace to
// finish, whatever had not finished is reported canceled, dropped or never
// submitted (never failed), the program says "interrupted" and exits with
// status 130. A second Ctrl+C exits at once.
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

// about opens the -h text.
const about = `taskqueue runs simulated jobs through a workqueue.Queue: a bounded buffer,
a few workers, transient failures retried with jittered backoff, "poison" jobs
dead-lettered at once, a timeout per attempt, a join and a graceful shutdown.
It prints a progress line now and then ([done/jobs], where done counts only
finished jobs), each dead letter as it happens, and at the end one count per
outcome; the counts always add up to the jobs asked for. On Ctrl+C it stops
submitting, gives running jobs -grace to finish, reports the rest as
canceled, dropped or never submitted (not as failed), and says "interrupted".

Exit status: 0 when every job ran, 1 on an error, 2 for bad flags,
130 when interrupted (Ctrl+C).`

// Exit statuses, see exitStatus.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report a Ctrl+C
)

var (
	// errInterrupted is returned by run when its ctx ended (Ctrl+C).
	errInterrupted = errors.New("interrupted")
	// errUsage marks a bad flag or configuration.
	errUsage = errors.New("invalid flags")
)

// exitStatus maps run's error to the program's exit status.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	}
	return exitError
}

type config struct {
	Jobs       int
	Workers    int
	Capacity   int
	FailRate   float64       // chance that one attempt fails transiently
	PoisonRate float64       // chance that a job can never succeed
	Work       time.Duration // upper bound of one attempt's simulated work
	Grace      time.Duration // how long Shutdown waits after Ctrl+C
	Seed       uint64
	Progress   time.Duration // interval of progress lines; 0 for none
}

// summary counts every job asked for exactly once: Jobs == Submitted +
// NotSubmitted, and Submitted == OK + RetriedOK + DeadPermanent +
// DeadExhausted + Canceled + Dropped. Only the two dead-letter counts are
// failures; canceled, dropped and never submitted jobs were cut short.
type summary struct {
	Jobs          int64 // asked for
	Submitted     int64 // accepted by the queue
	NotSubmitted  int64 // never submitted: Ctrl+C came first
	OK            int64 // succeeded on the first attempt
	RetriedOK     int64 // succeeded after one or more retries
	DeadPermanent int64 // failed with a permanent error: dead-lettered at once
	DeadExhausted int64 // still failing when the retry policy ran out
	Canceled      int64 // running or awaiting a retry at a forced shutdown
	Dropped       int64 // never started before a forced shutdown
	Retries       int64
	DeadLetters   []int // IDs of failed jobs, for a human to look at
	Interrupted   bool
	Elapsed       time.Duration
}

func (s *summary) total() int64 {
	return s.OK + s.RetriedOK + s.DeadPermanent + s.DeadExhausted + s.Canceled + s.Dropped
}

func (s *summary) done() int64 { return s.OK + s.RetriedOK + s.DeadPermanent + s.DeadExhausted }

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == nil {
		// Ctrl+C cancels ctx: stop submitting, then shut down within -grace.
		// After the first, a second Ctrl+C ends the program at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		context.AfterFunc(ctx, stop)
		_, err = run(ctx, cfg, os.Stdout)
		stop()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "taskqueue:", err)
	}
	os.Exit(exitStatus(err))
}

// parseFlags reads the command line. It prints the -h text, or the problem
// with a flag, to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("taskqueue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: taskqueue [flags]\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.Jobs, "jobs", 200, "number of jobs to submit")
	fs.IntVar(&cfg.Workers, "workers", 5, "number of worker goroutines")
	fs.IntVar(&cfg.Capacity, "capacity", 20, "jobs that may wait in the queue; Submit blocks beyond")
	fs.Float64Var(&cfg.FailRate, "fail", 0.15, "probability that one attempt fails transiently")
	fs.Float64Var(&cfg.PoisonRate, "poison", 0.02, "probability that a job fails permanently")
	fs.DurationVar(&cfg.Work, "work", 20*time.Millisecond, "maximum simulated work per attempt")
	fs.DurationVar(&cfg.Grace, "grace", 2*time.Second, "how long to let running jobs finish after Ctrl+C")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed fails the same attempts")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of progress lines (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "taskqueue:", err)
		return cfg, err
	}
	return cfg, nil
}

func (cfg config) check() error {
	if cfg.Jobs < 0 || cfg.Workers < 1 || cfg.Capacity < 1 {
		return fmt.Errorf("%w: need -jobs >= 0, -workers >= 1 and -capacity >= 1", errUsage)
	}
	return nil
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

	// Simulated work that respects cancellation (AttemptTimeout, Shutdown).
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

// run submits cfg.Jobs jobs, waits for them and shuts the queue down. If ctx
// ends (Ctrl+C) it stops early and returns an error matching errInterrupted;
// either way it prints a summary that accounts for every job to out.
func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if err := cfg.check(); err != nil {
		return summary{}, err
	}
	w := &worker{cfg: cfg, attempts: make([]atomic.Int32, cfg.Jobs)}

	var (
		mu sync.Mutex // guards s and out while the queue runs
		s  = summary{Jobs: int64(cfg.Jobs)}
	)
	// OnResult sees every accepted job exactly once: this is where outcomes
	// are counted and where a real program would write its dead letters.
	onResult := func(o workqueue.Result[task]) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case o.Outcome == workqueue.OutcomeSucceeded && o.Attempts == 1:
			s.OK++
		case o.Outcome == workqueue.OutcomeSucceeded:
			s.RetriedOK++
		case o.Outcome == workqueue.OutcomeFailed:
			if errors.Is(o.Err, retry.ErrExhausted) {
				s.DeadExhausted++
			} else {
				s.DeadPermanent++
			}
			s.DeadLetters = append(s.DeadLetters, o.Job.ID)
			fmt.Fprintf(out, "dead letter: job %3d after %d attempt(s): %v\n", o.Job.ID, o.Attempts, o.Err)
		case o.Outcome == workqueue.OutcomeCanceled:
			s.Canceled++ // cut short by the shutdown, not a failure
		case o.Outcome == workqueue.OutcomeDropped:
			s.Dropped++
		}
	}

	q, err := workqueue.New(w.handle, workqueue.Options[task]{
		Workers:  cfg.Workers,
		Capacity: cfg.Capacity, // bounded: Submit blocks when it is full
		Retry: &retry.Policy{
			MaxAttempts: 4, // the first attempt and up to 3 retries
			Schedule: retry.Schedule{
				Initial: 10 * time.Millisecond,
				Max:     200 * time.Millisecond,
				Jitter:  retry.JitterFull, // the default, spelled out
			},
		},
		AttemptTimeout: 2 * time.Second, // no attempt may hang forever
		OnResult:       onResult,
	})
	if err != nil {
		return summary{}, err
	}

	start := time.Now()
	stopProgress := progress(cfg.Progress, func() {
		mu.Lock()
		defer mu.Unlock()
		st := q.Stats()
		fmt.Fprintf(out, "%6.1fs [%4d/%d] ok %d, dead-lettered %d, running %d, queued %d, awaiting retry %d\n",
			time.Since(start).Seconds(), s.done(), s.Jobs, s.OK+s.RetriedOK, s.DeadPermanent+s.DeadExhausted,
			st.Running, st.Queued, st.Retrying)
	})
	submitted := 0
	for id := range cfg.Jobs {
		// Submit blocks while the buffer is full: the producer runs only as
		// fast as the workers. It returns early if ctx ends (Ctrl+C).
		if err := q.Submit(ctx, task{ID: id}); err != nil {
			break
		}
		submitted++
	}
	// Join: wait for every accepted job, retries included, without closing
	// the queue (a long-running program would keep submitting).
	if q.Wait(ctx) != nil || ctx.Err() != nil {
		mu.Lock()
		fmt.Fprintf(out, "interrupted: stopped submitting after %d of %d jobs; letting running jobs finish for up to %v\n",
			submitted, cfg.Jobs, cfg.Grace)
		mu.Unlock()
	}
	// Graceful shutdown: close intake, let the backlog drain for at most
	// Grace, then cancel what still runs. It returns once every worker exited.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	shutdownErr := q.Shutdown(sctx)
	stopProgress()

	s.Elapsed = time.Since(start)
	st := q.Stats()
	s.Submitted, s.Retries = st.Submitted, st.Retries
	s.NotSubmitted = s.Jobs - s.Submitted
	s.Interrupted = ctx.Err() != nil
	slices.Sort(s.DeadLetters)
	printSummary(out, &s)
	switch {
	case s.total() != s.Submitted || s.Submitted+s.NotSubmitted != s.Jobs:
		return s, fmt.Errorf("outcomes do not add up: %d reported, %d submitted, %d not submitted, %d jobs",
			s.total(), s.Submitted, s.NotSubmitted, s.Jobs)
	case s.Interrupted:
		return s, errInterrupted
	}
	return s, shutdownErr
}

// progress calls report every interval until the returned function is
// called; that function returns once the goroutine has exited.
func progress(every time.Duration, report func()) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func printSummary(out io.Writer, s *summary) {
	fmt.Fprintf(out, "\n%-28s %6d\n", "jobs", s.Jobs)
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
		{"never submitted", s.NotSubmitted},
	} {
		fmt.Fprintf(out, "  %-26s %6d\n", row.name, row.n)
	}
	fmt.Fprintf(out, "%-28s %6d\n", "retries", s.Retries)
	fmt.Fprintf(out, "%-28s %v\n", "dead letters", s.DeadLetters)
	fmt.Fprintf(out, "%-28s %v\n", "elapsed", s.Elapsed.Round(time.Millisecond))
	if s.Interrupted {
		fmt.Fprintf(out, "interrupted: %d of %d jobs done, %d cut short\n",
			s.done(), s.Jobs, s.Canceled+s.Dropped+s.NotSubmitted)
	}
}

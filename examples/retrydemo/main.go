// Command retrydemo shows the retry and limit packages working together,
// offline: 40 calls to a flaky in-process "backend" that fails one call in
// three and answers "busy, retry after 20ms" now and then. A semaphore caps
// concurrency at 8, a retry policy with full jitter retries the transient
// failures, and a shared budget keeps an outage from becoming a retry storm.
//
//	go run ./examples/retrydemo
//	go run ./examples/retrydemo -calls 100000 -progress 500ms
//
// Press Ctrl+C during a run: no new call starts, calls in progress end at
// once and are counted canceled (never failed), calls never started are
// counted too, the program says "interrupted" and exits with status 130.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// about opens the -h text.
const about = `retrydemo makes calls to a flaky in-process backend that fails about one
attempt in three, sometimes asking to come back later (a Retry-After hint). A
semaphore caps the calls in flight, each call is retried with jittered backoff,
and a shared retry budget stops retries when too many fail. It prints each call
that failed for good, a progress line now and then, and at the end one line:
calls = ok + failed + canceled + never started, the retries made, and the most
calls seen in flight against the cap. On Ctrl+C it starts no new call, counts
the calls it cut short as canceled (not failed) and those it never started,
and says "interrupted".

Exit status: 0 when every call ran, 1 on an error, 2 for bad flags,
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
	Calls       int
	Concurrency int64
	FailRate    float64
	Seed        uint64
	Progress    time.Duration // interval of progress lines; 0 for none
}

// summary accounts for every call: Calls == OK + Failed + Canceled +
// NotStarted.
type summary struct {
	Calls       int64
	OK          int64
	Failed      int64 // retries exhausted, budget spent, or a permanent error
	Canceled    int64 // in progress when ctx ended (Ctrl+C): cut short, not failed
	NotStarted  int64 // never started: ctx ended first
	Retries     int64
	MaxInFlight int64
	Interrupted bool
	Elapsed     time.Duration
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == nil {
		// Ctrl+C cancels ctx; after it, a second Ctrl+C ends the program at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		context.AfterFunc(ctx, stop)
		_, err = run(ctx, cfg, os.Stdout)
		stop()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "retrydemo:", err)
	}
	os.Exit(exitStatus(err))
}

// parseFlags reads the command line. It prints the -h text, or the problem
// with a flag, to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("retrydemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: retrydemo [flags]\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.Calls, "calls", 40, "number of calls to make")
	fs.Int64Var(&cfg.Concurrency, "c", 8, "maximum calls in flight")
	fs.Float64Var(&cfg.FailRate, "fail", 0.33, "probability that one attempt fails")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the fake backend")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of progress lines (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "retrydemo:", err)
		return cfg, err
	}
	return cfg, nil
}

func (cfg config) check() error {
	if cfg.Calls < 0 || cfg.Concurrency < 1 {
		return fmt.Errorf("%w: need -calls >= 0 and -c >= 1", errUsage)
	}
	return nil
}

var errBusy = errors.New("backend busy")

// backend is a fake dependency: it fails a fraction of attempts, sometimes
// with a hint to come back later, and tracks how many calls overlap.
type backend struct {
	mu       sync.Mutex
	rnd      *rand.Rand
	failRate float64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

func (b *backend) call(ctx context.Context) error {
	n := b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	for {
		m := b.maxSeen.Load()
		if n <= m || b.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	b.mu.Lock()
	roll := b.rnd.Float64()
	b.mu.Unlock()
	select {
	case <-time.After(2 * time.Millisecond): // the work
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case roll < b.failRate/3:
		return retry.After(errBusy, 20*time.Millisecond)
	case roll < b.failRate:
		return errors.New("connection reset")
	}
	return nil
}

// run makes cfg.Calls calls, at most cfg.Concurrency at a time. If ctx ends
// (Ctrl+C) it starts no more and returns an error matching errInterrupted;
// either way it prints a line that accounts for every call to w.
func run(ctx context.Context, cfg config, w io.Writer) (summary, error) {
	if err := cfg.check(); err != nil {
		return summary{}, err
	}
	be := &backend{rnd: rand.New(rand.NewPCG(cfg.Seed, 0)), failRate: cfg.FailRate}
	sem := limit.NewSemaphore(cfg.Concurrency)
	var (
		mu sync.Mutex // guards s and w while calls run
		s  = summary{Calls: int64(cfg.Calls)}
	)
	var retries atomic.Int64
	policy := retry.Policy{
		Schedule: retry.Schedule{
			Initial: 5 * time.Millisecond,
			Max:     100 * time.Millisecond,
			MaxHint: 50 * time.Millisecond,
		},
		MaxAttempts: 6,
		Budget:      retry.NewBudget(10, 1),
		OnRetry:     func(int, error, time.Duration) { retries.Add(1) },
	}
	start := time.Now()
	stopProgress := progress(cfg.Progress, func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%6.1fs [%d/%d] ok %d, failed %d, retries %d\n", time.Since(start).Seconds(),
			s.OK+s.Failed, s.Calls, s.OK, s.Failed, retries.Load())
	})
	var wg sync.WaitGroup
	started := 0
	for i := range cfg.Calls {
		if err := sem.Acquire(ctx, 1); err != nil {
			break // ctx ended: stop starting calls
		}
		started++
		wg.Go(func() {
			defer sem.Release(1)
			err := retry.Do(ctx, policy, be.call)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				s.OK++
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
				s.Canceled++ // cut short by Ctrl+C: not the backend's fault
			default:
				s.Failed++
				fmt.Fprintf(w, "call %2d failed: %v\n", i, err)
			}
		})
	}
	wg.Wait()
	stopProgress()
	s.NotStarted = s.Calls - int64(started)
	s.Retries = retries.Load()
	s.Elapsed = time.Since(start)
	s.MaxInFlight = be.maxSeen.Load()
	s.Interrupted = ctx.Err() != nil
	fmt.Fprintf(w, "calls: %d = %d ok + %d failed + %d canceled + %d never started; %d retries; at most %d in flight (cap %d); %v\n",
		s.Calls, s.OK, s.Failed, s.Canceled, s.NotStarted, s.Retries, s.MaxInFlight, cfg.Concurrency,
		s.Elapsed.Round(time.Millisecond))
	switch {
	case s.OK+s.Failed+s.Canceled+s.NotStarted != s.Calls:
		return s, errors.New("calls do not add up")
	case s.Interrupted:
		fmt.Fprintf(w, "interrupted: %d of %d calls cut short or never started\n", s.Canceled+s.NotStarted, s.Calls)
		return s, errInterrupted
	}
	return s, nil
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

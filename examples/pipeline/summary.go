package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/workqueue"
)

// gauge measures the backpressure at one queue's entrance.
type gauge struct {
	name      string
	producers int // goroutines that submit: 1 fetch loop, or the transform workers
	capacity  int
	blocked   atomic.Int64 // nanoseconds spent in Submit, all producers together
	maxDepth  atomic.Int64 // deepest the queue was seen right after a Submit
}

// submit is Queue.Submit, measured. Submit blocks while the queue is full:
// that wait is the backpressure, and it is what this records.
func submit[T any](ctx context.Context, q *workqueue.Queue[T], g *gauge, job T) error {
	start := time.Now()
	err := q.Submit(ctx, job)
	g.blocked.Add(int64(time.Since(start)))
	d := q.Stats().Queued
	for m := g.maxDepth.Load(); d > m && !g.maxDepth.CompareAndSwap(m, d); m = g.maxDepth.Load() {
	}
	return err
}

// summary accounts for every URL exactly once: it is written, or it failed
// at one stage, or it was canceled by Ctrl+C (which is not a failure).
type summary struct {
	URLs            int
	Written         int
	FetchFailed     map[string]int // by reason
	TransformFailed int
	WriteFailed     int
	Canceled        int // not fetched, canceled, dropped or refused after Ctrl+C
	Interrupted     bool
	Elapsed         time.Duration
	Gauges          []*gauge

	mu      sync.Mutex // the OnResult hooks run on the queues' goroutines
	fetches int        // final fetch results, canceled ones excluded
}

func (s *summary) fetched(r fetch.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Result.Outcome puts each result in one category, even when its error
	// matches several sentinels (an attempt timeout also matches
	// DeadlineExceeded; Ctrl+C during a backoff still wraps the last 503).
	switch o := r.Outcome(); o {
	case fetch.OutcomeOK:
	case fetch.OutcomeCanceled:
		s.Canceled++
		return
	case fetch.OutcomeStatusError:
		s.FetchFailed[fmt.Sprintf("HTTP %d", r.Status)]++
	default:
		s.FetchFailed[o.String()]++
	}
	s.fetches++
}

// transformed is the transform queue's OnResult. A transform that succeeded has
// handed its record to the write queue, which now accounts for it.
func (s *summary) transformed(o workqueue.Result[doc]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case o.Outcome == workqueue.OutcomeSucceeded:
	case o.Outcome == workqueue.OutcomeFailed && !interrupted(o.Err):
		s.TransformFailed++
	default:
		s.Canceled++
	}
}

func (s *summary) written(o workqueue.Result[record]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o.Outcome {
	case workqueue.OutcomeSucceeded:
		s.Written++
	case workqueue.OutcomeFailed:
		s.WriteFailed++
	default:
		s.Canceled++
	}
}

func (s *summary) canceled(n int) { s.mu.Lock(); s.Canceled += n; s.mu.Unlock() }

// progress returns the fetches and writes finished so far.
func (s *summary) progress() (fetched, written int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches, s.Written
}

func interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, workqueue.ErrClosed) || errors.Is(err, workqueue.ErrShutdown)
}

func (s *summary) fetchFailed() int {
	n := 0
	for _, v := range s.FetchFailed {
		n += v
	}
	return n
}

func (s *summary) total() int {
	return s.Written + s.fetchFailed() + s.TransformFailed + s.WriteFailed + s.Canceled
}

func (s *summary) print(w io.Writer) {
	var reasons []string
	for _, k := range slices.Sorted(maps.Keys(s.FetchFailed)) {
		reasons = append(reasons, fmt.Sprintf("%s: %d", k, s.FetchFailed[k]))
	}
	fmt.Fprintf(w, "\n%d URLs = %d written + %d fetch failed (%s) + %d transform failed + %d write failed + %d canceled\n",
		s.URLs, s.Written, s.fetchFailed(), strings.Join(reasons, ", "), s.TransformFailed, s.WriteFailed, s.Canceled)
	fmt.Fprintf(w, "elapsed %v, %.0f records/s\n", s.Elapsed.Round(time.Millisecond), float64(s.Written)/s.Elapsed.Seconds())
	fmt.Fprintln(w, "backpressure:")
	for _, g := range s.Gauges {
		blocked := time.Duration(g.blocked.Load())
		share := blocked.Seconds() / s.Elapsed.Seconds() / float64(g.producers)
		fmt.Fprintf(w, "  %-18s %d producer(s) blocked in Submit %3.0f%% of the time (%v in all), max queue depth %d/%d\n",
			g.name, g.producers, 100*share, blocked.Round(time.Millisecond), g.maxDepth.Load(), g.capacity)
	}
	if s.Interrupted {
		fmt.Fprintf(w, "interrupted: %d of %d URLs written, %d canceled\n", s.Written, s.URLs, s.Canceled)
	}
}

func readURLs(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	urls := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, line)
		}
	}
	return urls, sc.Err()
}

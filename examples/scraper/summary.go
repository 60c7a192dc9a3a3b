package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"syscall"
	"time"

	"github.com/sluicego/sluice/fetch"
)

// summary accumulates results. It is only touched by run's goroutine.
// Every URL ends in exactly one of OK, Failed and Canceled.
type summary struct {
	Total       int            // URLs asked for
	Done        int            // final results so far: ok or failed, not canceled
	OK          int            // 2xx with the whole body
	Failed      map[string]int // failures by reason
	Canceled    int            // cut short by Ctrl+C (or a failed -o): not failures
	Interrupted bool           // Ctrl+C
	Retries     int            // attempts beyond the first, over all URLs
	Bytes       int64
	Elapsed     time.Duration
	P50, P95    time.Duration // time to final result, waits and retries included
	MaxInFlight string        // per site, for the embedded sites
	start       time.Time
	latencies   []time.Duration
}

func newSummary(total int) *summary {
	return &summary{Total: total, Failed: map[string]int{}, start: time.Now(),
		latencies: make([]time.Duration, 0, total)}
}

func (s *summary) add(r fetch.Result) {
	s.Retries += max(r.Attempts-1, 0)
	if r.Outcome() == fetch.OutcomeCanceled {
		s.Canceled++ // even if an earlier attempt got a 503
		return
	}
	s.Done++
	s.latencies = append(s.latencies, r.Duration)
	if r.OK() {
		s.OK++
		s.Bytes += int64(len(r.Body))
		return
	}
	s.Failed[reason(r)]++
}

func (s *summary) failed() int {
	n := 0
	for _, v := range s.Failed {
		n += v
	}
	return n
}

// reason names the cause of a fetch for the summary table. Result.Outcome
// puts every result in exactly one category, as the Fetcher's Stats count
// them, even when its error matches several sentinels (an attempt timeout
// also matches context.DeadlineExceeded; Ctrl+C during a retry's backoff
// still wraps the last 503). Some categories are then refined for the table.
func reason(r fetch.Result) string {
	switch o := r.Outcome(); o {
	case fetch.OutcomeOK:
		return "ok"
	case fetch.OutcomeStatusError:
		return fmt.Sprintf("HTTP %d", r.Status)
	case fetch.OutcomeNetworkError:
		if errors.Is(r.Err, syscall.ECONNRESET) {
			return "connection reset"
		}
		return "network error"
	case fetch.OutcomeTimeout:
		return "attempt timeout"
	case fetch.OutcomeTooLarge:
		return "body too large"
	case fetch.OutcomeDisallowed:
		return "robots.txt disallows"
	case fetch.OutcomeCanceled:
		return "canceled" // Ctrl+C, even if an earlier attempt got a 503
	default:
		return o.String()
	}
}

func (s *summary) progress(w io.Writer, live bool) {
	el := time.Since(s.start)
	line := fmt.Sprintf("[%4d/%d] ok %d, failed %d, retries %d, %.0f pages/s",
		s.Done, s.Total, s.OK, s.failed(), s.Retries, float64(s.Done)/el.Seconds())
	if s.Canceled > 0 {
		line += fmt.Sprintf(", canceled %d", s.Canceled)
	}
	if s.Interrupted {
		line += " (interrupted)"
	}
	if live {
		fmt.Fprintf(w, "\r\033[K%s", line) // rewrite the line in place
	} else {
		fmt.Fprintf(w, "%6.1fs %s\n", el.Seconds(), line)
	}
}

func (s *summary) print(w io.Writer) {
	s.Elapsed = time.Since(s.start)
	slices.Sort(s.latencies)
	s.P50, s.P95 = percentile(s.latencies, 50), percentile(s.latencies, 95)

	fmt.Fprintf(w, "\n%-22s %6d\n", "ok", s.OK)
	fmt.Fprintf(w, "%-22s %6d\n", "failed", s.failed())
	for _, k := range slices.Sorted(maps.Keys(s.Failed)) {
		fmt.Fprintf(w, "  %-20s %6d\n", k, s.Failed[k])
	}
	if s.Canceled > 0 || s.Interrupted {
		fmt.Fprintf(w, "%-22s %6d\n", "canceled", s.Canceled)
	}
	fmt.Fprintf(w, "%-22s %6d\n", "total", s.OK+s.failed()+s.Canceled)
	fmt.Fprintf(w, "%-22s %6d\n", "retries", s.Retries)
	fmt.Fprintf(w, "%-22s %6.1f pages/s, %.0f KiB/s\n", "throughput",
		float64(s.Done)/s.Elapsed.Seconds(), float64(s.Bytes)/1024/s.Elapsed.Seconds())
	fmt.Fprintf(w, "%-22s p50 %v, p95 %v\n", "latency", s.P50.Round(time.Millisecond), s.P95.Round(time.Millisecond))
	fmt.Fprintf(w, "%-22s %v\n", "elapsed", s.Elapsed.Round(time.Millisecond))
	if s.MaxInFlight != "" {
		fmt.Fprintf(w, "%-22s %s\n", "max in flight", s.MaxInFlight)
	}
	if s.Interrupted {
		fmt.Fprintf(w, "interrupted: %d of %d pages done, %d canceled\n", s.Done, s.Total, s.Canceled)
	}
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)*p+99)/100-1]
}

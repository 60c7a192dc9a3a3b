package fetch

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/sluicego/sluice/retry"
)

// Stats is a snapshot of a Fetcher's counters since New. Every finished
// request is counted in exactly one of OK, StatusErrors, NetworkErrors,
// TooLarge, Disallowed, Canceled and OtherErrors, so their sum plus InFlight
// equals Requests once the snapshot is taken at a quiet moment.
type Stats struct {
	Requests      int64 // requests started (Get, Do, and each URL of All and Stream)
	InFlight      int64 // requests started and not finished
	Attempts      int64 // HTTP attempts sent, retries included, robots.txt excluded
	Retries       int64 // attempts that were retries
	RobotsFetches int64 // robots.txt requests sent

	OK            int64 // 2xx with the body read in full
	StatusErrors  int64 // final status not 2xx (*StatusError)
	NetworkErrors int64 // connection failures, resets, attempt timeouts
	TooLarge      int64 // ErrBodyTooLarge
	Disallowed    int64 // ErrDisallowed
	Canceled      int64 // the caller's context ended first
	OtherErrors   int64 // anything else, such as an invalid URL

	Bytes int64 // body bytes returned in successful Results
}

type counters struct {
	requests, inFlight, attempts, retries, robotsFetches        atomic.Int64
	ok, status, network, tooLarge, disallowed, canceled, others atomic.Int64
	bytes                                                       atomic.Int64
}

// Stats returns a snapshot of the Fetcher's counters. Each counter is read
// atomically; the snapshot as a whole is not taken under a lock.
func (f *Fetcher) Stats() Stats {
	c := &f.stats
	return Stats{
		Requests: c.requests.Load(), InFlight: c.inFlight.Load(),
		Attempts: c.attempts.Load(), Retries: c.retries.Load(),
		RobotsFetches: c.robotsFetches.Load(),
		OK:            c.ok.Load(), StatusErrors: c.status.Load(), NetworkErrors: c.network.Load(),
		TooLarge: c.tooLarge.Load(), Disallowed: c.disallowed.Load(),
		Canceled: c.canceled.Load(), OtherErrors: c.others.Load(),
		Bytes: c.bytes.Load(),
	}
}

// record counts a final Result in exactly one outcome.
func (c *counters) record(r *Result) {
	if r.Err == nil {
		c.ok.Add(1)
		c.bytes.Add(int64(len(r.Body)))
		return
	}
	c.recordError(r.Err)
}

func (c *counters) recordError(err error) {
	var se *StatusError
	var re *retry.Error
	switch {
	case errors.Is(err, ErrDisallowed):
		// Before the context cases: a cached robots.txt failure may wrap a
		// timeout, but the caller's context did not end.
		c.disallowed.Add(1)
	case errors.As(err, &re) && (re.Reason == context.Canceled || re.Reason == context.DeadlineExceeded):
		c.canceled.Add(1) // ctx ended during a backoff
	case !errors.Is(err, ErrTimeout) && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		c.canceled.Add(1)
	case errors.Is(err, ErrBodyTooLarge):
		c.tooLarge.Add(1)
	case errors.As(err, &se):
		c.status.Add(1)
	case isNetworkError(err):
		c.network.Add(1)
	default:
		c.others.Add(1)
	}
}

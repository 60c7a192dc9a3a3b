package fetch

import "sync/atomic"

// Stats is a snapshot of a Fetcher's counters since New. Every finished
// request is counted in exactly one of OK, StatusErrors, NetworkErrors,
// Timeouts, TooLarge, Disallowed, Canceled, OtherErrors, RobotsUnavailable,
// Invalid, Forbidden and HostUnavailable, so their sum plus InFlight equals Requests once the snapshot
// is taken at a quiet moment. The counter a Result goes to is the one of its
// [Result.Outcome].
type Stats struct {
	Requests      int64 // requests started (Get, Do, and each URL of All and Stream)
	InFlight      int64 // requests started and not finished
	BackingOff    int64 // of those, requests waiting out a retry's backoff (for a batch: parked)
	Attempts      int64 // HTTP attempts sent, retries included, redirect hops and robots.txt excluded
	Retries       int64 // attempts that were retries
	Redirects     int64 // redirect hops sent: requests made by following a redirect, not counted in Attempts
	RobotsFetches int64 // robots.txt requests sent, redirect hops included

	OK            int64 // 2xx with the body read in full
	StatusErrors  int64 // final status not 2xx (*StatusError)
	NetworkErrors int64 // connection failures, resets (OutcomeNetworkError)
	Timeouts      int64 // the last attempt timed out: ErrAttemptTimeout (OutcomeTimeout)
	TooLarge      int64 // ErrBodyTooLarge
	Disallowed    int64 // ErrDisallowed
	Canceled      int64 // the caller's context ended first
	OtherErrors   int64 // anything else, such as a failed GetBody

	RobotsUnavailable int64 // ErrRobotsUnavailable
	Invalid           int64 // ErrInvalidRequest: never sent
	Forbidden         int64 // ErrForbiddenAddress: refused by Options.DenyPrivateNetworks
	HostUnavailable   int64 // ErrHostUnavailable: refused by the host's open circuit breaker

	Bytes int64 // body bytes returned in successful Results
}

type counters struct {
	requests, inFlight, attempts, retries, robotsFetches                  atomic.Int64
	backingOff                                                            atomic.Int64
	ok, status, network, timeouts, tooLarge, disallowed, canceled, others atomic.Int64
	bytes                                                                 atomic.Int64
	redirects, robotsUnavailable, invalid, forbidden, hostUnavailable     atomic.Int64
}

// Stats returns a snapshot of the Fetcher's counters. Each counter is read
// atomically; the snapshot as a whole is not taken under a lock.
func (f *Fetcher) Stats() Stats {
	c := &f.stats
	return Stats{
		Requests: c.requests.Load(), InFlight: c.inFlight.Load(), BackingOff: c.backingOff.Load(),
		Attempts: c.attempts.Load(), Retries: c.retries.Load(),
		RobotsFetches: c.robotsFetches.Load(),
		OK:            c.ok.Load(), StatusErrors: c.status.Load(),
		NetworkErrors: c.network.Load(), Timeouts: c.timeouts.Load(),
		TooLarge: c.tooLarge.Load(), Disallowed: c.disallowed.Load(),
		Canceled: c.canceled.Load(), OtherErrors: c.others.Load(),
		Redirects: c.redirects.Load(), RobotsUnavailable: c.robotsUnavailable.Load(),
		Invalid: c.invalid.Load(), Forbidden: c.forbidden.Load(),
		HostUnavailable: c.hostUnavailable.Load(),
		Bytes:           c.bytes.Load(),
	}
}

// record counts a final Result in exactly one outcome, the one
// [Result.Outcome] reports.
func (c *counters) record(r *Result) {
	switch r.Outcome() {
	case OutcomeOK:
		c.ok.Add(1)
		c.bytes.Add(int64(len(r.Body)))
	case OutcomeStatusError:
		c.status.Add(1)
	case OutcomeNetworkError:
		c.network.Add(1)
	case OutcomeTimeout:
		c.timeouts.Add(1)
	case OutcomeTooLarge:
		c.tooLarge.Add(1)
	case OutcomeDisallowed:
		c.disallowed.Add(1)
	case OutcomeCanceled:
		c.canceled.Add(1)
	case OutcomeRobotsUnavailable:
		c.robotsUnavailable.Add(1)
	case OutcomeInvalid:
		c.invalid.Add(1)
	case OutcomeForbidden:
		c.forbidden.Add(1)
	case OutcomeHostUnavailable:
		c.hostUnavailable.Add(1)
	default:
		c.others.Add(1)
	}
}

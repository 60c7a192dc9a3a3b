package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicego/sluice/internal/clock"
	"github.com/sluicego/sluice/retry"
)

// retryState is one request's place in its retry loop. It is kept between
// attempts, so that a batch can park a request during a backoff with no
// goroutine waiting for it.
type retryState struct {
	req        *http.Request
	key        string
	robots     *robotsEntry
	replayable bool
	start      time.Time      // the call, or when a batch took the URL
	first      time.Time      // when the first attempt began: MaxElapsed counts from it
	attempt    int            // attempts begun so far
	delay      time.Duration  // the last backoff
	wait       time.Duration  // Result.Wait, once the first attempt was sent
	last       Result         // the outcome of the last attempt sent, once one failed
	mode       mode           // how the final response is handed over
	held       *http.Response // the final response, held unread (not in buffered mode)
}

// open checks req and its host's robots.txt and sets s up for its first
// step. It returns the final Result and false if req is not to be sent.
func (f *Fetcher) open(ctx context.Context, s *retryState, req *http.Request, start time.Time) (Result, bool) {
	if err := checkURL(req.URL); err != nil {
		return Result{Err: invalidURL(req.URL, err)}, false // before anything is waited for
	}
	key := hostKey(req.URL)
	var robots *robotsEntry
	if f.robots != nil {
		var err error
		if robots, err = f.robots.check(ctx, req.URL, key); err != nil {
			return Result{Err: err}, false
		}
	}
	*s = retryState{req: req, key: key, robots: robots, replayable: canRepeat(req), start: start, first: time.Now()}
	return Result{}, true
}

// run is the retry loop of Get and Do: it steps s until its Result is
// final, sleeping through each backoff (holding no slot) until ctx ends.
func (f *Fetcher) run(ctx context.Context, s *retryState) Result {
	for {
		res, delay, final := f.step(ctx, s)
		if final {
			return res
		}
		f.stats.backingOff.Add(1)
		err := clock.Sleep(ctx, delay)
		f.stats.backingOff.Add(-1)
		if err != nil {
			return s.interrupted(err)
		}
	}
}

// step makes s's next attempt, holding the slots only while it runs. It
// returns the final Result, or final false and the backoff to wait out
// before the next step. The policy decides as in retry.Do: MaxElapsed
// counts real time since the first attempt began, backoffs included.
func (f *Fetcher) step(ctx context.Context, s *retryState) (res Result, delay time.Duration, final bool) {
	res, delay, final = f.stepOnce(ctx, s)
	if final {
		res.Wait = s.wait
	}
	return res, delay, final
}

func (f *Fetcher) stepOnce(ctx context.Context, s *retryState) (Result, time.Duration, bool) {
	policy := &f.cfg.policy
	s.attempt++
	attempt := s.attempt
	res, sent, held, err := f.attempt(ctx, s.req, s.key, attempt, s.robots, s.mode)
	if attempt == 1 && !sent.IsZero() {
		s.wait = sent.Sub(s.start)
	}
	if err == nil {
		if policy.Budget != nil {
			policy.Budget.Success()
		}
		s.held = held
		return res, 0, true
	}
	if attempt > 1 && res.Attempts < attempt {
		// This retry was never sent (ctx ended while it waited for a
		// slot or rate token, or GetBody failed): report the last
		// response and keep its error.
		return lostRetry(ctx, s.last, err), 0, true
	}
	if ctx.Err() != nil || !s.replayable || !transient(err) {
		res.Err = unwrapHint(err)
		s.held = held
		return res, 0, true
	}
	d, stop := policy.Next(ctx, err, attempt, s.delay, time.Since(s.first))
	if stop != nil {
		res.Err = stop
		s.held = held
		return res, 0, true
	}
	if held != nil {
		drainAndClose(held.Body) // gives its slots back before the backoff
	}
	s.delay = d
	s.last = res
	s.last.Err = unwrapHint(err)
	f.log.Debug("fetch: retrying", "url", s.req.URL.Redacted(), "attempt", attempt, "delay", d, "err", err)
	return Result{}, d, false
}

// interrupted returns the Result of s when its backoff was cut short by
// err, the context's error: the last response, with a [*retry.Error] that
// wraps err and the last attempt's error.
func (s *retryState) interrupted(err error) Result {
	res := s.last
	res.Err = &retry.Error{Reason: err, Last: s.last.Err, Attempts: s.last.Attempts}
	res.Wait = s.wait
	return res
}

// lostRetry returns the Result of a request whose retry could not be sent
// because of err: last's response, with an error that wraps err (or ctx's
// error, as a [*retry.Error]) and last's error.
func lostRetry(ctx context.Context, last Result, err error) Result {
	if cerr := ctx.Err(); cerr != nil {
		last.Err = &retry.Error{Reason: cerr, Last: last.Err, Attempts: last.Attempts}
	} else {
		last.Err = fmt.Errorf("%w; attempt %d failed with: %w", err, last.Attempts, last.Err)
	}
	return last
}

// unwrapHint returns the StatusError inside a retry.After hint, so that a
// final error is the plain attempt error.
func unwrapHint(err error) error {
	if _, ok := retry.Hint(err); ok {
		var se *StatusError
		if errors.As(err, &se) {
			return se
		}
	}
	return err
}

// canRepeat reports whether req may be sent again: an idempotent method or
// an Idempotency-Key header, and a body that GetBody can recreate (or none).
func canRepeat(req *http.Request) bool {
	idempotent := false
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		idempotent = true
	default:
		_, key := req.Header["Idempotency-Key"]
		_, xkey := req.Header["X-Idempotency-Key"]
		idempotent = key || xkey
	}
	if !idempotent {
		return false
	}
	return !hasBody(req) || req.GetBody != nil
}

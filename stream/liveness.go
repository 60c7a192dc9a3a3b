package stream

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/stream/internal/ctxerr"
)

// watch is the watchdog goroutine. It closes the connection with
// ErrIdleTimeout when nothing arrived for idle — no message, no pong, and no
// bytes at all if act is not nil — and with ErrPingTimeout when a ping (sent
// every heartbeat if pinger is not nil) is not answered by its deadline,
// pingTimeout after it was sent. While the liveness clock is suspended (the
// handler runs, so nobody reads) it neither sends pings nor times out.
//
// The ping runs on a goroutine of its own, which watch waits for before it
// returns, so that the idle check goes on meanwhile. A ping is held against
// the peer only if its deadline passed, by the clock: one that fails earlier
// (say, because the peer's close frame closed the connection under it) is
// still unanswered, and is judged at its deadline unless the connection ended
// first, in which case Read reports why. It is not held against the peer
// either if a suspension began while it waited (a message arrived, and the
// pong may be unread only because the handler was running) or if bytes
// arrived meanwhile.
func (cn *connection[M]) watch(pinger Pinger, heartbeat, pingTimeout, idle time.Duration) {
	l, act := cn.live, cn.act
	poll := idle
	if pinger != nil && (poll == 0 || heartbeat < poll) {
		poll = heartbeat
	}
	var (
		pong time.Time // when the last ping was answered
		p    *pingCall // the ping in flight, if any
	)
	defer func() {
		if p != nil && p.done != nil {
			p.cancel()
			<-p.done
		}
	}()
	nextPing := time.Now().Add(heartbeat)
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if cn.ctx.Err() != nil {
			return
		}
		now := time.Now()
		last, suspended, epoch := l.snapshot()
		last = later(last, pong)
		if act != nil {
			last = later(last, act.LastActivity())
		}
		wait := poll
		if !suspended && idle > 0 {
			if now.Sub(last) >= idle {
				if !l.steadySince(epoch) {
					continue // a message arrived meanwhile: look again
				}
				cn.abandon(fmt.Errorf("%w: nothing received for %v", ErrIdleTimeout, idle))
				return
			}
			wait = min(wait, last.Add(idle).Sub(now))
		}
		if p != nil && p.done == nil { // the ping failed early
			if now.Before(p.deadline) {
				wait = min(wait, p.deadline.Sub(now))
			} else {
				if p.held(l, act) {
					cn.abandon(pingTimeoutError(pingTimeout, p.failed))
					return
				}
				p, nextPing = nil, now.Add(heartbeat)
				cn.setPing(nil)
				continue
			}
		}
		if p == nil && pinger != nil && !suspended {
			if now.Before(nextPing) {
				wait = min(wait, nextPing.Sub(now))
			} else {
				p = cn.startPing(pinger, now, pingTimeout, epoch)
				cn.setPing(p)
			}
		}
		var answered <-chan pingResult
		if p != nil {
			answered = p.done
		}
		t.Reset(wait)
		select {
		case <-cn.ctx.Done():
			return
		case <-t.C:
		case r := <-answered:
			p.done = nil
			p.cancel()
			switch {
			case cn.ctx.Err() != nil:
				return
			case r.err == nil:
				pong, p, nextPing = r.at, nil, r.at.Add(heartbeat)
				cn.setPing(nil)
			case r.at.Before(p.deadline):
				p.failed = r.err // still unanswered: judged at the deadline
			case p.held(l, act):
				cn.abandon(pingTimeoutError(pingTimeout, r.err))
				return
			default:
				p, nextPing = nil, r.at.Add(heartbeat)
				cn.setPing(nil)
			}
		}
	}
}

// pingCall is a ping in flight.
type pingCall struct {
	start    time.Time     // when it was sent
	deadline time.Time     // when it runs out of time
	timeout  time.Duration // deadline - start
	epoch    uint64        // the liveness epoch when it was sent (not suspended)
	cancel   context.CancelFunc
	done     chan pingResult // receives Ping's result; nil once received
	failed   error           // Ping's error, if it failed before deadline
}

type pingResult struct {
	err error
	at  time.Time // when Ping returned
}

// startPing calls pinger.Ping on a new goroutine, which sends its result
// on the returned call's done channel when Ping returns.
func (cn *connection[M]) startPing(pinger Pinger, now time.Time, timeout time.Duration, epoch uint64) *pingCall {
	ctx, cancel := context.WithDeadline(cn.ctx, now.Add(timeout))
	done := make(chan pingResult, 1)
	go func() {
		err := pinger.Ping(ctx)
		done <- pingResult{err: err, at: time.Now()}
	}()
	return &pingCall{start: now, deadline: now.Add(timeout), timeout: timeout, epoch: epoch, cancel: cancel, done: done}
}

// held reports whether p, unanswered by its deadline, counts against the
// peer: not if a suspension began since it was sent, nor if bytes arrived.
func (p *pingCall) held(l *liveness, act ActivityReporter) bool {
	if !l.steadySince(p.epoch) {
		return false
	}
	return act == nil || !act.LastActivity().After(p.start)
}

// pingTimeoutError is the reason for a ping unanswered by its deadline. It
// wraps the error Ping returned unless that is a context error: the
// watchdog's ping deadline is not the caller's, and must not match
// context.DeadlineExceeded.
func pingTimeoutError(timeout time.Duration, err error) error {
	if err == nil || ctxerr.Matches(err) {
		return fmt.Errorf("%w within %v", ErrPingTimeout, timeout)
	}
	return fmt.Errorf("%w within %v: %w", ErrPingTimeout, timeout, err)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// liveness is the clock the watchdog reads, written by Run's goroutine
// around every handler call: suspend before it, resume after it. Since Run
// reads the connection only between handler calls, the peer is judged only
// on the time outside them, and the clock restarts when a call returns.
//
// The cost per message is two atomic adds; resume also reads the clock, and
// stores it, only when stamp is set (IdleTimeout is on): pings need no time,
// only to know whether a suspension began while they waited. All methods
// are no-ops on nil.
type liveness struct {
	base  time.Time
	stamp bool          // whether resume records the time
	epoch atomic.Uint64 // suspensions begun and ended: odd while suspended
	last  atomic.Int64  // when the last suspension ended, in nanoseconds since base
}

func newLiveness(stamp bool) *liveness { return &liveness{base: time.Now(), stamp: stamp} }

// suspend stops the clock: the handler is about to run. Only Run's
// goroutine calls suspend and resume, alternately.
func (l *liveness) suspend() {
	if l == nil {
		return
	}
	l.epoch.Add(1)
}

// resume restarts the clock from now: the handler returned. It stores the
// time before it ends the suspension, so that a snapshot that sees no
// suspension also sees the new time.
func (l *liveness) resume() {
	if l == nil {
		return
	}
	if l.stamp {
		l.last.Store(int64(time.Since(l.base)))
	}
	l.epoch.Add(1)
}

// snapshot returns when the clock last restarted (the end of the latest
// suspension, or base; meaningful only with stamp set), whether it is
// suspended, and the epoch to pass to steadySince. It reads in the reverse
// order of resume, so it never pairs "not suspended" with a time older
// than the end of the latest suspension.
func (l *liveness) snapshot() (last time.Time, suspended bool, epoch uint64) {
	epoch = l.epoch.Load()
	return l.base.Add(time.Duration(l.last.Load())), epoch%2 == 1, epoch
}

// steadySince reports whether no suspension is in progress or has begun
// since the snapshot that returned epoch, which was not suspended.
func (l *liveness) steadySince(epoch uint64) bool {
	return l.epoch.Load() == epoch
}

package stream

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
)

// connection is one live Conn with, when liveness checks are on, the
// watchdog goroutine that serves it. Run owns it: Run's goroutine reads it
// (see Client.serve), starts the watchdog and, in teardown, stops and waits
// for it.
type connection[M any] struct {
	conn   Conn[M]
	ctx    context.Context // ends at teardown; the ctx Dial received
	cancel context.CancelCauseFunc
	stop   chan struct{}  // closed at teardown
	live   *liveness      // nil when neither pings nor IdleTimeout are on
	unlink func() bool    // stops the close on the end of Run's ctx; nil if none
	wg     sync.WaitGroup // watchdog and the close on Run's ctx

	closeOnce sync.Once

	mu     sync.Mutex
	reason error // why the client closed the connection, if it did
}

func newConnection[M any](ctx context.Context, cancel context.CancelCauseFunc, conn Conn[M]) *connection[M] {
	return &connection[M]{
		conn:   conn,
		ctx:    ctx,
		cancel: cancel,
		stop:   make(chan struct{}),
	}
}

// fail closes the connection and records err as the reason, unless one
// was recorded first. Run then reports the reason instead of the Read error
// that the close causes.
func (cn *connection[M]) fail(err error) {
	cn.setReason(err)
	cn.close()
}

// setReason records err as the reason the client closed the connection,
// unless one was recorded first.
func (cn *connection[M]) setReason(err error) {
	cn.mu.Lock()
	if cn.reason == nil {
		cn.reason = err
	}
	cn.mu.Unlock()
}

func (cn *connection[M]) failure() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.reason
}

// close closes the Conn once; later callers wait for the first to finish.
func (cn *connection[M]) close() {
	cn.closeOnce.Do(func() { _ = cn.conn.Close() })
}

// abandon is fail for a peer deemed dead: it closes the Conn at once, with
// CloseNow where the Conn is a ForceCloser, instead of waiting for a closing
// handshake that cannot be answered.
func (cn *connection[M]) abandon(err error) {
	cn.setReason(err)
	cn.closeOnce.Do(func() {
		if fc, ok := cn.conn.(ForceCloser); ok {
			_ = fc.CloseNow()
			return
		}
		_ = cn.conn.Close()
	})
}

// keepHint returns reason, the error the client closed the connection for,
// carrying the retry.After hint of readErr, the Read error the close caused,
// unless reason has one: a delay the server asked for (such as an SSE retry
// field) stays a minimum however the connection ended.
func keepHint(reason, readErr error) error {
	if _, ok := retry.Hint(reason); ok {
		return reason
	}
	if h, ok := retry.Hint(readErr); ok {
		return retry.After(reason, h)
	}
	return reason
}

// watch is the watchdog goroutine. It closes the connection with
// ErrIdleTimeout when nothing arrived for idle, and with ErrPingTimeout
// when a ping (sent every heartbeat if pinger is not nil) is not answered
// within pingTimeout. While the liveness clock is suspended (the handler
// runs, so nobody reads) it neither pings nor times out, and it ignores a
// ping that failed while a suspension began: a message arrived meanwhile,
// or the pong may be unread only because the handler was running.
func (cn *connection[M]) watch(pinger Pinger, heartbeat, pingTimeout, idle time.Duration) {
	l := cn.live
	poll := idle
	if pinger != nil && (poll == 0 || heartbeat < poll) {
		poll = heartbeat
	}
	var pong time.Time // when the last ping was answered
	nextPing := time.Now().Add(heartbeat)
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		now := time.Now()
		last, suspended, epoch := l.snapshot()
		if pong.After(last) {
			last = pong
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
		if !suspended && pinger != nil {
			if !now.Before(nextPing) {
				ctx, cancel := context.WithTimeout(cn.ctx, pingTimeout)
				err := pinger.Ping(ctx)
				cancel()
				if cn.ctx.Err() != nil {
					return
				}
				switch {
				case err == nil:
					pong = time.Now()
				case l.steadySince(epoch):
					cn.abandon(fmt.Errorf("%w within %v: %w", ErrPingTimeout, pingTimeout, err))
					return
				}
				nextPing = time.Now().Add(heartbeat)
				continue // time has passed: check again
			}
			wait = min(wait, nextPing.Sub(now))
		}
		t.Reset(wait)
		select {
		case <-cn.ctx.Done():
			return
		case <-t.C:
		}
	}
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

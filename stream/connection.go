package stream

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
)

// readAhead is how many messages the reader goroutine may hold for a busy
// handler before it stops reading.
const readAhead = 8

// item is what the reader hands to Run: a message, or the error that ended
// the connection (always the last item).
type item[M any] struct {
	m   M
	err error
}

// connection is one live Conn with the goroutines that serve it: a reader,
// which reads ahead into items, and, when liveness checks are on, a watchdog.
// Run owns it: it starts the goroutines and, in teardown, stops and waits
// for them.
type connection[M any] struct {
	conn   Conn[M]
	ctx    context.Context // ends at teardown; the ctx Dial received
	cancel context.CancelCauseFunc
	items  chan item[M]
	stop   chan struct{}  // closed when Run no longer takes items
	live   *liveness      // nil when neither pings nor IdleTimeout are on
	unlink func() bool    // stops the close on the end of Run's ctx; nil if none
	wg     sync.WaitGroup // reader, watchdog and the close on Run's ctx

	closeOnce sync.Once

	mu     sync.Mutex
	reason error // why the client closed the connection, if it did
}

func newConnection[M any](ctx context.Context, cancel context.CancelCauseFunc, conn Conn[M]) *connection[M] {
	return &connection[M]{
		conn:   conn,
		ctx:    ctx,
		cancel: cancel,
		items:  make(chan item[M], readAhead),
		stop:   make(chan struct{}),
	}
}

// fail closes the connection and records err as the reason, unless one
// was recorded first. The reader then reports the reason instead of the
// Read error that the close causes.
func (cn *connection[M]) fail(err error) {
	cn.mu.Lock()
	if cn.reason == nil {
		cn.reason = err
	}
	cn.mu.Unlock()
	cn.close()
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
	cn.mu.Lock()
	if cn.reason == nil {
		cn.reason = err
	}
	cn.mu.Unlock()
	cn.closeOnce.Do(func() {
		if fc, ok := cn.conn.(ForceCloser); ok {
			_ = fc.CloseNow()
			return
		}
		_ = cn.conn.Close()
	})
}

// read is the reader goroutine: it reads until the connection fails and
// hands every message, then the error, to Run in order. While items is
// full — the handler is busy — it stops reading and suspends the liveness
// clock, since an unread connection cannot show that the peer is alive.
func (cn *connection[M]) read() {
	for {
		m, err := cn.conn.Read(cn.ctx)
		if err != nil {
			if r := cn.failure(); r != nil {
				err = keepHint(r, err)
			}
			select {
			case cn.items <- item[M]{err: err}:
			case <-cn.stop:
			}
			return
		}
		cn.live.touch()
		it := item[M]{m: m}
		select {
		case cn.items <- it:
			continue
		default:
		}
		cn.live.suspend()
		select {
		case cn.items <- it:
			cn.live.resume()
		case <-cn.stop:
			cn.live.resume()
			return
		}
	}
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
// within pingTimeout. While the liveness clock is suspended it neither pings
// nor times out; a ping that fails while a suspension began is ignored.
func (cn *connection[M]) watch(pinger Pinger, heartbeat, pingTimeout, idle time.Duration) {
	l := cn.live
	poll := idle
	if pinger != nil && (poll == 0 || heartbeat < poll) {
		poll = heartbeat
	}
	nextPing := time.Now().Add(heartbeat)
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		now := time.Now()
		last, suspended, epoch := l.snapshot()
		wait := poll
		if !suspended && idle > 0 {
			if now.Sub(last) >= idle {
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
					l.touch()
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

// liveness is the clock the watchdog reads: when something last arrived,
// and whether the clock is suspended because the application, not the
// peer, is the one not keeping up. It is lock-free, as touch runs for every
// message: times are monotonic nanoseconds since base. All methods are
// no-ops on nil.
type liveness struct {
	base      time.Time
	last      atomic.Int64  // last arrival, or end of the last suspension
	suspended atomic.Int32  // suspensions in progress
	epoch     atomic.Uint64 // suspensions begun so far
}

func newLiveness() *liveness { return &liveness{base: time.Now()} }

func (l *liveness) now() int64 { return int64(time.Since(l.base)) }

func (l *liveness) touch() {
	if l == nil {
		return
	}
	l.last.Store(l.now())
}

func (l *liveness) suspend() {
	if l == nil {
		return
	}
	l.suspended.Add(1)
	l.epoch.Add(1)
}

// resume ends a suspension and restarts the clock from now. It moves the
// clock before it ends the suspension, so that a snapshot that sees no
// suspension also sees the new time.
func (l *liveness) resume() {
	if l == nil {
		return
	}
	l.last.Store(l.now())
	l.suspended.Add(-1)
}

// snapshot returns the last arrival, whether the clock is suspended, and
// the epoch to pass to steadySince. It reads in the reverse order of the
// writers (epoch, suspended, then last), so it never pairs "not suspended"
// with a time older than the end of the latest suspension.
func (l *liveness) snapshot() (last time.Time, suspended bool, epoch uint64) {
	epoch = l.epoch.Load()
	suspended = l.suspended.Load() > 0
	return l.base.Add(time.Duration(l.last.Load())), suspended, epoch
}

// steadySince reports whether no suspension is in progress or has begun
// since the snapshot that returned epoch.
func (l *liveness) steadySince(epoch uint64) bool {
	return l.suspended.Load() == 0 && l.epoch.Load() == epoch
}

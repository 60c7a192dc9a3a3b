package stream

import (
	"context"
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
	live   *liveness      // nil when no watchdog runs (no Pinger to ping, no IdleTimeout)
	unlink func() bool    // stops the close on the end of Run's ctx; nil if none
	wg     sync.WaitGroup // watchdog and the close on Run's ctx

	closeOnce sync.Once
	closing   atomic.Bool // close began: the Client closes cn (teardown, end of Run's ctx, a failed write)

	act ActivityReporter // conn's, if it reports activity

	mu         sync.Mutex
	reason     error     // why the client closed the connection, if it did first
	readFailed bool      // Read failed (before any reason was recorded, if reason is nil)
	ping       *pingCall // the watchdog's ping in flight, if any
}

func newConnection[M any](ctx context.Context, cancel context.CancelCauseFunc, conn Conn[M]) *connection[M] {
	return &connection[M]{
		conn:   conn,
		ctx:    ctx,
		cancel: cancel,
		stop:   make(chan struct{}),
	}
}

// fail closes the connection and records err as the reason, unless a
// reason was recorded first or Read already failed: Run then reports the
// reason instead of the Read error that the close causes.
func (cn *connection[M]) fail(err error) {
	if cn.setReason(err) {
		cn.close()
	}
}

// setReason records err as the reason the client closed the connection and
// reports true, unless a reason was recorded first or Read already failed
// on its own: the error that really ended the connection is the one kept.
func (cn *connection[M]) setReason(err error) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.reason != nil || cn.readFailed {
		return false
	}
	cn.reason = err
	return true
}

// readEnded records that Read failed and returns the reason the client
// closed the connection for, if it recorded one first; later reasons are
// ignored. A Read that fails once a ping in flight is past its deadline, by
// the clock, ends with that ping's timeout, even if the watchdog has not yet
// seen it: a transport may close the connection when the ping's ctx ends
// (github.com/coder/websocket does if the ping frame is still being
// written, as to a peer that stopped reading), and the Read then fails
// because of the timeout.
func (cn *connection[M]) readEnded() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.readFailed = true
	if p := cn.ping; cn.reason == nil && p != nil && !time.Now().Before(p.deadline) && p.held(cn.live, cn.act) {
		cn.reason = pingTimeoutError(p.timeout, nil)
	}
	return cn.reason
}

// setPing publishes the ping in flight (nil: none) for readEnded.
func (cn *connection[M]) setPing(p *pingCall) {
	cn.mu.Lock()
	cn.ping = p
	cn.mu.Unlock()
}

// close closes the Conn once; later callers wait for the first to finish.
func (cn *connection[M]) close() {
	cn.closing.Store(true)
	cn.closeOnce.Do(func() { _ = cn.conn.Close() })
}

// abandon is fail for a peer deemed dead: it closes the Conn at once, with
// CloseNow where the Conn is a ForceCloser, instead of waiting for a closing
// handshake that cannot be answered.
func (cn *connection[M]) abandon(err error) {
	if !cn.setReason(err) || cn.closing.Load() {
		return // a close is underway, bounded by the transport: don't wait for it
	}
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

package stream_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/stream"
)

// Issue 10 item 7: keep-alive bytes that are no message (SSE comments,
// pongs) did not count as traffic, so a quiet stream with IdleTimeout above
// the keep-alive interval reconnected forever and lost an event pushed
// meanwhile. Keep-alives every 300ms with IdleTimeout 1s: one connection for
// an hour, and the event pushed at 3s is delivered.
func TestKeepAliveBytesKeepQuietStreamConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.active = true
		var ev events
		c := newClient(t, s, stream.Options[string]{IdleTimeout: time.Second, OnState: ev.add})
		var h collect
		r := startRun(t.Context(), c, h.handle)
		synctest.Wait()
		conn := s.next()
		start := time.Now()
		for i := 1; time.Since(start) < time.Hour; i++ {
			time.Sleep(300 * time.Millisecond)
			conn.Trickle()
			if i == 10 { // at 3s
				require.True(t, conn.Push("pushed at 3s"))
			}
		}
		synctest.Wait()
		assert.Equal(t, []string{"pushed at 3s"}, h.got())
		assert.Equal(t, int32(1), s.dials.Load(), "never reconnected")
		assert.NotContains(t, ev.states(), stream.StateDisconnected)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// Bytes count only when they arrive: once they stop, the peer is dead
// IdleTimeout after the last one, whatever a half-received message looks
// like — not later, and not before.
func TestIdleTimeoutRunsFromLastByteNotLastMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Second
		s := newFakeServer()
		s.active = true
		var ev events
		c := newClient(t, s, stream.Options[string]{IdleTimeout: idle, OnState: ev.add, Backoff: noJitter})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		for range 7 { // part of a message every 700ms, never completed
			time.Sleep(700 * time.Millisecond)
			conn.Trickle()
		}
		closesAt(t, conn, idle, "not before IdleTimeout after the last byte", "dead IdleTimeout after the last byte")
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrIdleTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// Time in the handler still does not count against the peer when the
// transport reports activity: bytes sent while the handler runs are not read
// (received) until it returns, and the clock restarts when it does.
func TestSlowHandlerNotIdleTimedOutWithActivityReporter_massive844(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = time.Second
		s := newFakeServer()
		s.active = true
		var ev events
		c := newClient(t, s, stream.Options[string]{IdleTimeout: idle, OnState: ev.add})
		r := startRun(t.Context(), c, func(context.Context, string) error {
			time.Sleep(10 * idle)
			return nil
		})
		synctest.Wait()
		conn := s.next()
		require.True(t, conn.Push("slow"))
		time.Sleep(5 * idle)
		conn.Trickle() // arrives during the handler: received at the next Read
		closesAt(t, conn, 5*idle+idle, "not before IdleTimeout after the handler returned")
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrIdleTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// A peer that never pongs but whose bytes keep arriving (a large message
// behind which the pong waits) is alive; once the bytes stop, the next
// unanswered ping finds it dead.
func TestBytesDuringUnansweredPingNotHeldAgainstPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const heartbeat, timeout = time.Second, 500 * time.Millisecond
		s := newFakeServer()
		s.pinger, s.active = true, true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: heartbeat, PingTimeout: timeout, OnState: ev.add, Backoff: noJitter,
		})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		for range 100 { // bytes every 200ms for 20s
			time.Sleep(200 * time.Millisecond)
			conn.Trickle()
		}
		synctest.Wait()
		assert.False(t, conn.isClosed(), "kept while bytes arrive")
		assert.Greater(t, s.pings.Load(), int32(10))
		silent := time.Now()
		for !conn.isClosed() {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		assert.LessOrEqual(t, time.Since(silent), heartbeat+timeout)
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrPingTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// The idle check goes on while a ping waits for its answer: a dead peer is
// found IdleTimeout after the last arrival even when PingTimeout is longer.
func TestIdleTimeoutNotDelayedByPingInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger = true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: time.Second, PingTimeout: time.Minute, IdleTimeout: 3 * time.Second,
			OnState: ev.add, Backoff: noJitter,
		})
		start := time.Now()
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		for !conn.isClosed() {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		assert.Equal(t, 3*time.Second, time.Since(start).Truncate(time.Millisecond))
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrIdleTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

var errGoingAway = errors.New("fake: peer closed the connection (going away)")

// Issue 10 item 8: when a heartbeat ping was waiting for its pong as the
// server's close frame arrived, the ping failed ("use of closed network
// connection") and was recorded as ErrPingTimeout: a clean close reported
// as a dead peer. Whichever is seen first, the ping's failure or the Read's,
// the close is what is reported.
func TestCleanCloseRacingPingIsNotReportedAsPingTimeout(t *testing.T) {
	for _, pingFirst := range []bool{true, false} {
		name := "read fails first"
		if pingFirst {
			name = "ping fails first"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const heartbeat = time.Second
				s := newFakeServer()
				s.pinger = true
				s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
				var ev events
				c := newClient(t, s, stream.Options[string]{
					Heartbeat: heartbeat, PingTimeout: 5 * time.Second, OnState: ev.add, Backoff: noJitter,
				})
				r := startRun(t.Context(), c, (&collect{}).handle)
				synctest.Wait()
				conn := s.next()
				time.Sleep(heartbeat) // the ping is in flight
				synctest.Wait()
				require.Equal(t, int32(1), s.pings.Load())
				if pingFirst {
					conn.FailPings()
					synctest.Wait() // the watchdog has seen the failed ping
					conn.Drop(errGoingAway)
				} else {
					conn.Drop(errGoingAway)
					synctest.Wait()
					conn.FailPings()
				}
				synctest.Wait()
				require.True(t, conn.isClosed())
				err := lastDisconnect(&ev)
				assert.ErrorIs(t, err, errGoingAway, "the close is reported")
				assert.NotErrorIs(t, err, stream.ErrPingTimeout)
				require.ErrorIs(t, r.stop(), context.Canceled)
			})
		})
	}
}

// Only a ping that ran out of time is a ping timeout: one that fails early
// on a connection that stays up is still unanswered, and is a timeout at
// its deadline, not before.
func TestPingFailingEarlyIsATimeoutOnlyAtItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const heartbeat, timeout = time.Second, 2 * time.Second
		s := newFakeServer()
		s.pinger = true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: heartbeat, PingTimeout: timeout, OnState: ev.add, Backoff: noJitter,
		})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		time.Sleep(heartbeat)
		conn.FailPings()
		closesAt(t, conn, timeout, "not before the ping's deadline")
		err := lastDisconnect(&ev)
		assert.ErrorIs(t, err, stream.ErrPingTimeout)
		assert.ErrorIs(t, err, errConnClosed, "the ping's own error is kept")
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// Issue 10 item 9: a ping-timeout disconnect matched
// context.DeadlineExceeded, so code recognising its own shutdown that way
// took a dead peer for it. No disconnect reason — ping timeout, idle
// timeout, connect timeout, a transport's own timeout — matches a context
// error while Run's context is live; the end of Run's context does.
func TestDisconnectReasonMatchesContextErrorOnlyWhenCallerContextEnded(t *testing.T) {
	errTransportTimeout := context.DeadlineExceeded // as net's dial timeout matches it
	for _, tc := range []struct {
		name   string
		setup  func(s *fakeServer)
		opts   stream.Options[string]
		reason error
	}{
		{"ping timeout", func(s *fakeServer) {
			s.pinger = true
			s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		}, stream.Options[string]{Heartbeat: time.Second, PingTimeout: 500 * time.Millisecond}, stream.ErrPingTimeout},
		{"idle timeout", func(*fakeServer) {}, stream.Options[string]{IdleTimeout: time.Second}, stream.ErrIdleTimeout},
		{"connect timeout", func(s *fakeServer) { s.block = true }, stream.Options[string]{ConnectTimeout: time.Second}, stream.ErrConnectTimeout},
		{"transport timeout", func(s *fakeServer) {
			s.dialErr = func(int) error { return errors.Join(errors.New("dial tcp: i/o timeout"), errTransportTimeout) }
		}, stream.Options[string]{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeServer()
				tc.setup(s)
				var ev events
				o := tc.opts
				o.OnState, o.Backoff, o.MaxFailures = ev.add, noJitter, 3
				c := newClient(t, s, o)
				err := c.Run(t.Context(), (&collect{}).handle)
				require.ErrorIs(t, err, stream.ErrMaxFailures)
				n := 0
				for _, e := range append(ev.all(), stream.StateEvent{Err: err}, stream.StateEvent{Err: c.Stats().LastError}) {
					if e.Err == nil {
						continue
					}
					n++
					if tc.reason != nil {
						assert.ErrorIs(t, e.Err, tc.reason)
					}
					assert.NotErrorIs(t, e.Err, context.DeadlineExceeded, "%v", e.Err)
					assert.NotErrorIs(t, e.Err, context.Canceled, "%v", e.Err)
				}
				assert.GreaterOrEqual(t, n, 5)

				// The caller's own deadline is DeadlineExceeded.
				c = newClient(t, s, tc.opts)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				err = c.Run(ctx, (&collect{}).handle)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.NotErrorIs(t, err, stream.ErrMaxFailures)
			})
		})
	}
}

// A transport may close the connection itself when a ping's ctx ends
// (coder/websocket does while the ping frame is still being written, as to
// a peer that stopped reading): the Read then fails at the ping's deadline,
// and the disconnect is the ping timeout, not the Read error it caused.
func TestPingTimeoutThatClosesTheConnectionIsReportedAsPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger, s.pingCutsConn = true, true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: time.Second, PingTimeout: 500 * time.Millisecond, OnState: ev.add,
			Backoff: noJitter, MaxFailures: 3,
		})
		err := c.Run(t.Context(), (&collect{}).handle)
		require.ErrorIs(t, err, stream.ErrMaxFailures)
		n := 0
		for _, e := range ev.all() {
			if e.State == stream.StateDisconnected {
				n++
				assert.ErrorIs(t, e.Err, stream.ErrPingTimeout)
				assert.NotErrorIs(t, e.Err, errConnClosed)
			}
		}
		assert.Equal(t, 3, n)
	})
}

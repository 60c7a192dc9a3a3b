package stream_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/stream"
)

func lastDisconnect(ev *events) error {
	all := ev.all()
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].State == stream.StateDisconnected {
			return all[i].Err
		}
	}
	return nil
}

// closesAt checks that conn is closed exactly d from now: still open a
// nanosecond before (notBefore says why), closed at d.
func closesAt(t *testing.T, conn *fakeConn, d time.Duration, notBefore string, msgAndArgs ...any) {
	t.Helper()
	time.Sleep(d - time.Nanosecond)
	synctest.Wait()
	assert.False(t, conn.isClosed(), notBefore)
	time.Sleep(time.Nanosecond)
	synctest.Wait()
	assert.True(t, conn.isClosed(), msgAndArgs...)
}

// A peer that stops answering pings is detected within Heartbeat + PingTimeout.
func TestDeadPeerDetectedWithinHeartbeatPlusTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger = true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: time.Second, PingTimeout: 500 * time.Millisecond, OnState: ev.add,
			Backoff: noJitter,
		})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		closesAt(t, conn, 1500*time.Millisecond, "not before Heartbeat+PingTimeout", "dead peer detected at Heartbeat+PingTimeout")
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrPingTimeout)
		assert.GreaterOrEqual(t, s.pings.Load(), int32(1))
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// An answering peer is kept however long it stays quiet.
func TestAnsweredPingsKeepQuietConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger = true
		c := newClient(t, s, stream.Options[string]{Heartbeat: time.Second, IdleTimeout: 3 * time.Second})
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(time.Hour)
		assert.Equal(t, int32(1), s.dials.Load())
		assert.Greater(t, s.pings.Load(), int32(3000))
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestIdleTimeoutClosesSilentConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer() // no Pinger
		var ev events
		c := newClient(t, s, stream.Options[string]{IdleTimeout: 2 * time.Second, OnState: ev.add})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		time.Sleep(time.Second)
		conn.Push("keeps it alive")
		closesAt(t, conn, 2*time.Second, "the message restarted the idle clock")
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrIdleTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// A slow handler is not mistaken for a dead peer, even though nothing reads
// the connection while it runs, so that pings go unanswered, as with
// coder/websocket — massive-com client #844.
func TestSlowConsumerNotKilledAsDead_massive844(t *testing.T) {
	for _, backlog := range []int{1, 50} {
		t.Run(fmt.Sprintf("backlog=%d", backlog), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const idle = 2 * time.Second
				s := newFakeServer()
				s.pinger = true
				s.onAccept = func(c *fakeConn) {
					for i := range backlog {
						c.Push(fmt.Sprint(i))
					}
				}
				var ev events
				c := newClient(t, s, stream.Options[string]{
					Heartbeat: 500 * time.Millisecond, IdleTimeout: idle, OnState: ev.add,
				})
				var got []string
				r := startRun(t.Context(), c, func(_ context.Context, m string) error {
					if len(got) == 0 {
						time.Sleep(10 * idle) // the slow consumer
					}
					got = append(got, m)
					return nil
				})
				time.Sleep(11 * idle)
				synctest.Wait()
				assert.Len(t, got, backlog)
				assert.Equal(t, int32(1), s.dials.Load(), "never reconnected")
				assert.Equal(t, int64(0), c.Stats().Disconnects)
				assert.NotContains(t, ev.states(), stream.StateDisconnected)

				// Liveness is back once the handler is idle: a dead peer is
				// still caught.
				s.pongs.Store(false)
				time.Sleep(idle + time.Nanosecond)
				assert.Equal(t, int64(1), c.Stats().Disconnects)
				require.ErrorIs(t, r.stop(), context.Canceled)
			})
		})
	}
}

// Stats.LastError and the disconnect reason name a write failure.
func TestWriteErrorClosesConnectionAndRedials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		broken := errors.New("broken pipe")
		s.writeErr = func(m string) error {
			if m == "poison" {
				return broken
			}
			return nil
		}
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		first := s.next()
		assert.ErrorIs(t, c.Send(t.Context(), "poison"), broken)
		synctest.Wait()
		assert.True(t, first.isClosed())
		time.Sleep(time.Second)
		assert.Equal(t, int32(2), s.dials.Load())
		assert.ErrorIs(t, c.Stats().LastError, broken)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// A peer deemed dead is closed at once (ForceCloser), not with a closing
// handshake it cannot answer: the reconnect is not delayed by the close.
func TestDeadPeerClosedAtOnceNotAfterGracefulCloseTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts stream.Options[string]
		at   time.Duration
	}{
		{"ping timeout", stream.Options[string]{Heartbeat: time.Second, PingTimeout: 500 * time.Millisecond}, 1500 * time.Millisecond},
		{"idle timeout", stream.Options[string]{Heartbeat: -1, IdleTimeout: 2 * time.Second}, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeServer()
				s.pinger = true
				s.slowClose = 10 * time.Second
				s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
				var ev events
				o := tc.opts
				o.OnState = ev.add
				o.Backoff = noJitter
				c := newClient(t, s, o)
				start := time.Now()
				r := startRun(t.Context(), c, (&collect{}).handle)
				synctest.Wait()
				for c.Stats().State != stream.StateDisconnected {
					time.Sleep(time.Millisecond)
					synctest.Wait()
				}
				assert.Equal(t, tc.at, time.Since(start).Truncate(time.Millisecond), "disconnected when the peer was found dead, not after a 10s close")
				require.ErrorIs(t, r.stop(), context.Canceled)
			})
		})
	}
}

// The idle clock stops while the handler runs and restarts from zero when
// it returns: a connection is closed IdleTimeout after the handler's return,
// not after the message's arrival.
func TestIdleClockRestartsWhenHandlerReturns_massive844(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 2 * time.Second
		s := newFakeServer() // no Pinger
		var ev events
		c := newClient(t, s, stream.Options[string]{IdleTimeout: idle, OnState: ev.add})
		r := startRun(t.Context(), c, func(context.Context, string) error {
			time.Sleep(5 * idle) // slow consumer
			return nil
		})
		synctest.Wait()
		conn := s.next()
		time.Sleep(time.Second)
		conn.Push("slow")
		closesAt(t, conn, 5*idle+idle, "not before IdleTimeout after the handler returned") // the handler returned at 11s
		assert.ErrorIs(t, lastDisconnect(&ev), stream.ErrIdleTimeout)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// A peer that never answers pings but keeps sending is alive: a ping during
// which a message arrived (and the handler ran, so the pong may be unread)
// is not held against it. Once it falls silent it is found dead within
// Heartbeat + PingTimeout of the last handler call.
func TestPingOverlappingMessagesNotHeldAgainstPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const heartbeat, timeout = time.Second, 500 * time.Millisecond
		s := newFakeServer()
		s.pinger = true
		s.onAccept = func(c *fakeConn) { c.deaf.Store(true) }
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Heartbeat: heartbeat, PingTimeout: timeout, OnState: ev.add, Backoff: noJitter,
		})
		var h collect
		r := startRun(t.Context(), c, h.handle)
		synctest.Wait()
		conn := s.next()
		for range 20 { // a message every 400ms for 8s
			time.Sleep(400 * time.Millisecond)
			require.True(t, conn.Push("m"))
		}
		synctest.Wait()
		assert.Len(t, h.got(), 20)
		assert.False(t, conn.isClosed(), "kept while messages arrive")
		assert.Positive(t, s.pings.Load())
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

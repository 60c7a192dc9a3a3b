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

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
)

var noJitter = retry.Schedule{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: retry.JitterNone}

func TestNewRejectsInvalidOptions(t *testing.T) {
	s := newFakeServer()
	for name, o := range map[string]stream.Options[string]{
		"StableAfter":  {StableAfter: -1},
		"MaxFailures":  {MaxFailures: -1},
		"IdleTimeout":  {IdleTimeout: -time.Second},
		"PingTimeout":  {PingTimeout: -time.Second},
		"Initial":      {Backoff: retry.Schedule{Initial: -2}},
		"InitialAbove": {Backoff: retry.Schedule{Initial: time.Minute, Max: time.Second}},
		"Jitter":       {Backoff: retry.Schedule{Jitter: 42}},
	} {
		_, err := stream.New[string](s, o)
		assert.ErrorIs(t, err, stream.ErrInvalidOptions, name)
	}
	_, err := stream.New[string](nil, stream.Options[string]{})
	assert.ErrorIs(t, err, stream.ErrInvalidOptions)
	_, err = stream.New(stream.DialFunc[string](nil), stream.Options[string]{})
	assert.ErrorIs(t, err, stream.ErrInvalidOptions)
	_, err = stream.New[string](s, stream.Options[string]{Heartbeat: -1, SendBuffer: -1})
	assert.NoError(t, err, "negative Heartbeat and SendBuffer mean disabled")
}

func TestRunDeliversInOrderAndRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		c := newClient(t, s, stream.Options[string]{})
		var h collect
		r := startRun(t.Context(), c, h.handle)
		synctest.Wait()
		conn := s.next()
		require.NotNil(t, conn)
		for _, m := range []string{"a", "b", "c"} {
			conn.Push(m)
		}
		synctest.Wait()
		assert.Equal(t, []string{"a", "b", "c"}, h.got())
		assert.ErrorIs(t, c.Run(t.Context(), h.handle), stream.ErrRunCalled)
		assert.ErrorIs(t, r.stop(), context.Canceled)
		st := c.Stats()
		assert.Equal(t, stream.StateClosed, st.State)
		assert.Equal(t, int64(3), st.MessagesIn)
		assert.Equal(t, int64(1), st.Dials)
		assert.Equal(t, int64(1), st.Connects)
		assert.Equal(t, int64(1), st.Disconnects)
		assert.True(t, conn.isClosed())
	})
}

func TestMessagesReadBeforeADropAreDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) {
			if s.dials.Load() == 1 {
				c.Push("1")
				c.Push("2")
				c.Drop(errors.New("reset"))
			}
		}
		c := newClient(t, s, stream.Options[string]{})
		var h collect
		r := startRun(t.Context(), c, h.handle)
		time.Sleep(time.Second) // virtual: let it reconnect
		synctest.Wait()
		s.next()
		s.next().Push("3")
		synctest.Wait()
		assert.Equal(t, []string{"1", "2", "3"}, h.got())
		assert.Equal(t, int32(2), s.dials.Load())
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// An accept-then-drop server must see the delays grow: the backoff is not
// reset because a connection opened, only after it stayed up StableAfter.
func TestBackoffNotResetOnOpen_AcceptThenDropNoStorm_goSSE(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   retry.Schedule
		maxDials int32
	}{
		// 0, .1, .3, .7, 1.5, 3.1, 6.3, 12.7, 22.7, 32.7, 42.7, 52.7s: 12 dials.
		{"no jitter", noJitter, 12},
		// Full jitter averages ~18 dials a minute; a storm would be thousands.
		{"full jitter", retry.Schedule{Initial: 100 * time.Millisecond, Max: 10 * time.Second}, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeServer()
				s.onAccept = func(c *fakeConn) { c.Drop(errors.New("accepted, then dropped")) }
				var ev events
				c := newClient(t, s, stream.Options[string]{Backoff: tc.policy, StableAfter: 5 * time.Second, OnState: ev.add})
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				err := c.Run(ctx, (&collect{}).handle)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				dials := s.dials.Load()
				assert.LessOrEqual(t, dials, tc.maxDials)
				assert.GreaterOrEqual(t, dials, int32(5))
				if tc.policy.Jitter == retry.JitterNone {
					d := ev.delays()
					require.NotEmpty(t, d)
					assert.Equal(t, int64(100*time.Millisecond), d[0])
					for i := 1; i < len(d); i++ {
						assert.GreaterOrEqual(t, d[i], d[i-1], "delays must not shrink")
					}
					assert.Equal(t, int64(10*time.Second), d[len(d)-1])
				}
			})
		})
	}
}

func TestBackoffResetsAfterStableAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		// Dials 1-3 drop at once; dial 4 stays up until the test drops it.
		s.onAccept = func(c *fakeConn) {
			if s.dials.Load() <= 3 {
				c.Drop(errors.New("drop"))
			}
		}
		var ev events
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, StableAfter: 5 * time.Second, OnState: ev.add})
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, int32(4), s.dials.Load())
		var last *fakeConn
		for cn := s.next(); cn != nil; cn = s.next() {
			last = cn
		}
		time.Sleep(5 * time.Second) // stable now
		last.Drop(errors.New("after a stable period"))
		synctest.Wait()
		d := ev.delays()
		ms := time.Millisecond
		assert.Equal(t, []int64{int64(100 * ms), int64(200 * ms), int64(400 * ms), int64(100 * ms)}, d)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestMaxFailuresEndsRunWithLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		refused := errors.New("connection refused")
		s.dialErr = func(int) error { return refused }
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, MaxFailures: 4})
		err := c.Run(t.Context(), (&collect{}).handle)
		assert.ErrorIs(t, err, stream.ErrMaxFailures)
		assert.ErrorIs(t, err, refused)
		assert.Equal(t, int32(4), s.dials.Load())
		assert.ErrorIs(t, c.Stats().LastError, refused)
	})
}

// Connections that drop before StableAfter count towards MaxFailures, so a
// server that always accepts and drops cannot keep Run alive forever.
func TestMaxFailuresCountsUnstableConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) { c.Drop(errors.New("drop")) }
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, MaxFailures: 3})
		err := c.Run(t.Context(), (&collect{}).handle)
		assert.ErrorIs(t, err, stream.ErrMaxFailures)
		assert.Equal(t, int32(3), s.dials.Load())
	})
}

func TestNeverGivesUpSilently_r3labsMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(int) error { return errors.New("down") }
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter}) // MaxFailures 0: forever
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Hour)
		defer cancel()
		r := startRun(ctx, c, (&collect{}).handle)
		time.Sleep(time.Hour)
		n := s.dials.Load()
		assert.False(t, r.finished(), "Run must not give up on its own")
		time.Sleep(10 * time.Minute)
		assert.Greater(t, s.dials.Load(), n, "still redialling after an hour")
		assert.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestOnConnectFailureCountsAsFailedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		subErr := errors.New("subscribe rejected")
		calls := 0
		var ev events
		c := newClient(t, s, stream.Options[string]{
			Backoff: noJitter, MaxFailures: 3, OnState: ev.add,
			OnConnect: func(ctx context.Context, snd stream.Sender[string]) error {
				calls++
				if err := snd.Send(ctx, "subscribe"); err != nil {
					return err
				}
				if calls < 3 {
					return subErr
				}
				return nil
			},
		})
		var h collect
		r := startRun(t.Context(), c, h.handle)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, 3, calls)
		conns := []*fakeConn{s.next(), s.next(), s.next()}
		assert.True(t, conns[0].isClosed(), "a connection whose OnConnect failed is closed")
		assert.True(t, conns[1].isClosed())
		assert.False(t, conns[2].isClosed())
		assert.Equal(t, []string{"subscribe"}, conns[2].Recv())
		assert.Equal(t, []stream.State{
			stream.StateConnecting, stream.StateDisconnected,
			stream.StateConnecting, stream.StateDisconnected,
			stream.StateConnecting, stream.StateConnected,
		}, ev.states())
		assert.ErrorIs(t, ev.all()[1].Err, subErr)
		assert.Equal(t, int64(1), c.Stats().Connects)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestOnConnectFailureExhaustsMaxFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		subErr := errors.New("subscribe rejected")
		c := newClient(t, s, stream.Options[string]{
			Backoff: noJitter, MaxFailures: 2,
			OnConnect: func(context.Context, stream.Sender[string]) error { return subErr },
		})
		err := c.Run(t.Context(), (&collect{}).handle)
		assert.ErrorIs(t, err, stream.ErrMaxFailures)
		assert.ErrorIs(t, err, subErr)
		assert.Equal(t, int32(0), s.open.Load(), "every connection closed")
	})
}

func TestPermanentDialErrorEndsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		unauthorized := errors.New("401 Unauthorized")
		s.dialErr = func(n int) error {
			if n < 3 {
				return errors.New("503")
			}
			return retry.Permanent(unauthorized)
		}
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter})
		err := c.Run(t.Context(), (&collect{}).handle)
		assert.ErrorIs(t, err, unauthorized)
		assert.True(t, retry.IsPermanent(err))
		assert.Equal(t, int32(3), s.dials.Load())
	})
}

func TestHandlerErrorEndsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		bad := errors.New("bad message")
		s.onAccept = func(c *fakeConn) { c.Push("ok"); c.Push("bad"); c.Push("never") }
		c := newClient(t, s, stream.Options[string]{})
		var seen []string
		err := c.Run(t.Context(), func(_ context.Context, m string) error {
			seen = append(seen, m)
			if m == "bad" {
				return bad
			}
			return nil
		})
		assert.Same(t, bad, err)
		assert.Equal(t, []string{"ok", "bad"}, seen)
		assert.Equal(t, int32(0), s.open.Load())
		assert.Equal(t, int32(1), s.dials.Load())
	})
}

func TestStateEventSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(n int) error {
			if n == 1 {
				return errors.New("refused")
			}
			return nil
		}
		var ev events
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, OnState: ev.add})
		assert.Equal(t, stream.StateIdle, c.Stats().State)
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, stream.StateConnected, c.Stats().State)
		s.next().Drop(errors.New("eof"))
		time.Sleep(time.Second)
		require.ErrorIs(t, r.stop(), context.Canceled)
		all := ev.all()
		assert.Equal(t, []stream.State{
			stream.StateConnecting, stream.StateDisconnected, // refused
			stream.StateConnecting, stream.StateConnected, stream.StateDisconnected, // eof
			stream.StateConnecting, stream.StateConnected, stream.StateDisconnected, // cancel
			stream.StateClosed,
		}, ev.states())
		assert.EqualError(t, all[1].Err, "refused")
		assert.Equal(t, 100*time.Millisecond, all[1].Delay)
		assert.Equal(t, 1, all[1].Attempt)
		assert.Equal(t, 2, all[2].Attempt)
		assert.EqualError(t, all[4].Err, "eof")
		assert.ErrorIs(t, all[7].Err, context.Canceled)
		assert.ErrorIs(t, all[8].Err, context.Canceled)
		assert.Equal(t, "connected", stream.StateConnected.String())
		assert.Equal(t, "State(9)", stream.State(9).String())
		assert.Equal(t, "disconnected (attempt 1, retry in 100ms): refused", all[1].String())
	})
}

// A retry.After hint on a Read error (the SSE transport's `retry:` field)
// is honoured as the minimum delay before the next dial.
func TestRetryHintOnReadErrorIsMinimumDelay_r3labsRetryIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) {
			if s.dials.Load() == 1 {
				c.Drop(retry.After(errors.New("server asked"), 7*time.Second))
			}
		}
		var ev events
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, OnState: ev.add})
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(7*time.Second - time.Millisecond)
		assert.Equal(t, int32(1), s.dials.Load(), "no redial before the hint")
		time.Sleep(2 * time.Millisecond)
		assert.Equal(t, int32(2), s.dials.Load())
		assert.Equal(t, []int64{int64(7 * time.Second)}, ev.delays())
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// The hint is capped by Backoff.MaxHint.
func TestRetryHintCappedByMaxHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(n int) error {
			if n == 1 {
				return retry.After(errors.New("429"), 1000*time.Hour)
			}
			return nil
		}
		p := noJitter
		p.MaxHint = 30 * time.Second
		var ev events
		c := newClient(t, s, stream.Options[string]{Backoff: p, OnState: ev.add})
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(31 * time.Second)
		assert.Equal(t, int32(2), s.dials.Load())
		assert.Equal(t, []int64{int64(30 * time.Second)}, ev.delays())
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestCancelDuringDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.block = true
		c := newClient(t, s, stream.Options[string]{})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		start := time.Now()
		assert.ErrorIs(t, r.stop(), context.Canceled)
		assert.Zero(t, time.Since(start))
		assert.Equal(t, int32(1), s.dials.Load())
	})
}

func TestConnectTimeoutBoundsAHungDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.block = true
		c := newClient(t, s, stream.Options[string]{ConnectTimeout: time.Second, MaxFailures: 1})
		err := c.Run(t.Context(), (&collect{}).handle)
		assert.ErrorIs(t, err, stream.ErrConnectTimeout)
		assert.ErrorIs(t, err, stream.ErrMaxFailures)
	})
}

func TestCancelDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(int) error { return errors.New("down") }
		c := newClient(t, s, stream.Options[string]{Backoff: retry.Schedule{Initial: time.Hour, Max: time.Hour, Jitter: retry.JitterNone}})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		start := time.Now()
		assert.ErrorIs(t, r.stop(), context.Canceled)
		assert.Zero(t, time.Since(start))
		assert.Equal(t, int32(1), s.dials.Load())
	})
}

func TestCancelDuringHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) { c.Push("work") }
		c := newClient(t, s, stream.Options[string]{})
		inHandler := make(chan struct{})
		r := startRun(t.Context(), c, func(ctx context.Context, _ string) error {
			close(inHandler)
			<-ctx.Done() // a handler that honours ctx
			return ctx.Err()
		})
		<-inHandler
		assert.ErrorIs(t, r.stop(), context.Canceled)
		assert.Equal(t, int32(0), s.open.Load(), "connection closed")
	})
}

// After Run returns nothing redials and Send fails with ErrClosed.
func TestNoReconnectAfterRunReturns_centrifuge20(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) { c.Drop(errors.New("drop")) }
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter})
		r := startRun(t.Context(), c, (&collect{}).handle)
		time.Sleep(time.Second)
		require.ErrorIs(t, r.stop(), context.Canceled)
		n := s.dials.Load()
		time.Sleep(time.Hour)
		assert.Equal(t, n, s.dials.Load())
		assert.ErrorIs(t, c.Send(t.Context(), "late"), stream.ErrClosed)
		assert.Equal(t, int32(0), s.open.Load())
	})
}

// Run's return leaves no reader, watchdog or timer goroutine behind, and the
// connection is closed: synctest.Test would fail on a goroutine left in the
// bubble, goleak on one outside it.
func TestRunReturnLeavesNoReadLoop_r3labs89(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger = true
		c := newClient(t, s, stream.Options[string]{Heartbeat: time.Second, IdleTimeout: 5 * time.Second})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		conn.Push("x")
		time.Sleep(3 * time.Second)
		require.ErrorIs(t, r.stop(), context.Canceled)
		assert.True(t, conn.isClosed())
	})
}

// While no connection can be made the client sleeps its backoff; it never
// spins (the dial count over an hour stays in the hundreds at most).
func TestNoBusyLoopWhileDisconnected_recws43(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(int) error { return errors.New("down") }
		c := newClient(t, s, stream.Options[string]{}) // default policy, full jitter
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		assert.ErrorIs(t, c.Run(ctx, (&collect{}).handle), context.DeadlineExceeded)
		// Mean delay at the 10s cap with full jitter is 5s: ~720 per hour.
		assert.Less(t, s.dials.Load(), int32(1200))
	})
}

// Connections that fail in every possible way, while pings and idle
// timeouts fire, never overlap: the old one is closed before the next dial.
func TestNeverTwoConnectionsAtOnce_recws20(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.pinger = true
		s.onAccept = func(c *fakeConn) {
			switch s.dials.Load() % 4 {
			case 0:
				c.Drop(errors.New("drop"))
			case 1:
				c.deaf.Store(true) // dies of ping timeout
			case 2:
				c.Push("m")
				c.Drop(errors.New("drop after a message"))
			case 3:
				c.Push("m")
				c.deaf.Store(true)
			}
		}
		c := newClient(t, s, stream.Options[string]{
			Backoff: noJitter, Heartbeat: 200 * time.Millisecond, IdleTimeout: time.Second,
		})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		assert.ErrorIs(t, c.Run(ctx, (&collect{}).handle), context.DeadlineExceeded)
		assert.Greater(t, s.dials.Load(), int32(20))
		assert.Equal(t, int32(1), s.maxOpen.Load())
		assert.Equal(t, int32(0), s.open.Load())
	})
}

// closeRecorder records whether the Dial ctx was still live when Close ran.
type closeRecorder struct {
	*fakeConn
	dialCtx     context.Context
	liveAtClose chan bool
}

func (c closeRecorder) Close() error {
	select {
	case c.liveAtClose <- c.dialCtx.Err() == nil:
	default:
	}
	return c.fakeConn.Close()
}

// Cancelling Run must close the Conn while the ctx its Read runs with is
// still live: transports such as coder/websocket drop the TCP connection
// without the close handshake when that ctx ends first. This also holds
// while the handler is busy.
func TestCancelClosesConnBeforeEndingItsContext(t *testing.T) {
	for _, busy := range []bool{false, true} {
		t.Run(fmt.Sprintf("busyHandler=%v", busy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newFakeServer()
				live := make(chan bool, 1)
				d := stream.DialFunc[string](func(ctx context.Context) (stream.Conn[string], error) {
					conn, err := s.Dial(ctx)
					if err != nil {
						return nil, err
					}
					return closeRecorder{fakeConn: conn.(*fakeConn), dialCtx: ctx, liveAtClose: live}, nil
				})
				c, err := stream.New[string](d, stream.Options[string]{Heartbeat: -1})
				require.NoError(t, err)
				release := make(chan struct{})
				r := startRun(t.Context(), c, func(context.Context, string) error {
					<-release // a handler that ignores ctx
					return nil
				})
				synctest.Wait()
				if busy {
					s.next().Push("m")
					synctest.Wait()
				}
				r.cancel()
				synctest.Wait()
				select {
				case v := <-live:
					assert.True(t, v, "Conn.Close ran after its ctx ended")
				default:
					t.Fatal("cancelling Run did not close the connection")
				}
				close(release)
				require.ErrorIs(t, r.stop(), context.Canceled)
			})
		})
	}
}

// Run reads the connection only between handler calls: while the handler
// runs, messages wait in the transport and no Read is in progress.
func TestNoReadWhileHandlerRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.onAccept = func(c *fakeConn) { c.Push("1"); c.Push("2"); c.Push("3") }
		c := newClient(t, s, stream.Options[string]{})
		release := make(chan struct{})
		var h collect
		r := startRun(t.Context(), c, func(ctx context.Context, m string) error {
			if m == "1" {
				<-release
			}
			return h.handle(ctx, m)
		})
		synctest.Wait()
		conn := s.next()
		assert.Equal(t, int32(0), conn.reading.Load(), "no Read in progress while the handler runs")
		assert.Len(t, conn.toClient, 2, "nothing read ahead")
		assert.Equal(t, int64(1), c.Stats().MessagesIn)
		close(release)
		synctest.Wait()
		assert.Equal(t, []string{"1", "2", "3"}, h.got())
		assert.Equal(t, int32(1), conn.reading.Load(), "reading again once the handler is idle")
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

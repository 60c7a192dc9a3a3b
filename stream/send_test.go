package stream_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
)

func TestSendBufferOrderAndOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		c := newClient(t, s, stream.Options[string]{
			SendBuffer: 3,
			OnConnect: func(ctx context.Context, snd stream.Sender[string]) error {
				return snd.Send(ctx, "subscribe") // ahead of the buffer
			},
		})
		ctx := t.Context()
		for _, m := range []string{"a", "b", "c"} {
			require.NoError(t, c.Send(ctx, m))
		}
		assert.ErrorIs(t, c.Send(ctx, "d"), stream.ErrSendBufferFull)
		assert.Equal(t, int64(3), c.Stats().Buffered)

		r := startRun(ctx, c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		require.NoError(t, c.Send(ctx, "e")) // connected: written at once
		assert.Equal(t, []string{"subscribe", "a", "b", "c", "e"}, conn.Recv())
		st := c.Stats()
		assert.Equal(t, int64(0), st.Buffered)
		assert.Equal(t, int64(5), st.MessagesOut)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestSendWhileDisconnectedFlushedInOrderAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(n int) error {
			if n == 2 || n == 3 {
				return errors.New("down")
			}
			return nil
		}
		c := newClient(t, s, stream.Options[string]{Backoff: noJitter, SendBuffer: 10})
		ctx := t.Context()
		r := startRun(ctx, c, (&collect{}).handle)
		synctest.Wait()
		s.next().Drop(errors.New("gone"))
		synctest.Wait()
		assert.Equal(t, stream.StateDisconnected, c.Stats().State)
		for i := range 5 {
			require.NoError(t, c.Send(ctx, fmt.Sprint(i)))
		}
		time.Sleep(time.Second)
		require.NoError(t, c.Send(ctx, "after"))
		conn := s.next()
		require.NotNil(t, conn)
		assert.Equal(t, []string{"0", "1", "2", "3", "4", "after"}, conn.Recv())
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestSendBufferDisabled(t *testing.T) {
	s := newFakeServer()
	c := newClient(t, s, stream.Options[string]{SendBuffer: -1})
	assert.ErrorIs(t, c.Send(t.Context(), "x"), stream.ErrSendBufferFull)
}

// Messages that waited longer than SendMaxAge are dropped, counted and not
// flushed; the buffer is bounded by count anyway — choria PR #164.
func TestStaleSendBufferNotFlushed_choria164(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.dialErr = func(n int) error {
			if n == 1 {
				return errors.New("down")
			}
			return nil
		}
		c := newClient(t, s, stream.Options[string]{
			SendBuffer: 2, SendMaxAge: 5 * time.Second,
			Backoff: retry.Schedule{Initial: 10 * time.Second, Max: 10 * time.Second, Jitter: retry.JitterNone},
		})
		ctx := t.Context()
		r := startRun(ctx, c, (&collect{}).handle)
		synctest.Wait()
		require.NoError(t, c.Send(ctx, "stale"))
		time.Sleep(6 * time.Second)
		require.NoError(t, c.Send(ctx, "fresh"))
		assert.ErrorIs(t, c.Send(ctx, "over"), stream.ErrSendBufferFull)
		time.Sleep(5 * time.Second)
		conn := s.next()
		require.NotNil(t, conn)
		assert.Equal(t, []string{"fresh"}, conn.Recv())
		assert.Equal(t, int64(1), c.Stats().Dropped)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

func TestQueuedMessagesDroppedAndCountedWhenRunEnds(t *testing.T) {
	s := newFakeServer()
	s.dialErr = func(int) error { return retry.Permanent(errors.New("403")) }
	c := newClient(t, s, stream.Options[string]{})
	require.NoError(t, c.Send(t.Context(), "a"))
	require.NoError(t, c.Send(t.Context(), "b"))
	require.Error(t, c.Run(t.Context(), (&collect{}).handle))
	st := c.Stats()
	assert.Equal(t, int64(2), st.Dropped)
	assert.Equal(t, int64(0), st.Buffered)
	assert.ErrorIs(t, c.Send(t.Context(), "c"), stream.ErrClosed)
}

func TestSendHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		block := make(chan struct{})
		s.writeErr = func(string) error { <-block; return nil }
		c := newClient(t, s, stream.Options[string]{})
		r := startRun(t.Context(), c, (&collect{}).handle)
		synctest.Wait()
		go func() { _ = c.Send(t.Context(), "stuck") }() // holds the write slot
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		assert.ErrorIs(t, c.Send(ctx, "waits"), context.DeadlineExceeded)
		cancelled, cancel2 := context.WithCancel(t.Context())
		cancel2()
		assert.ErrorIs(t, c.Send(cancelled, "x"), context.Canceled)
		close(block)
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

// Many goroutines Send while the connection keeps dropping and Run ends:
// Conn.Write never runs concurrently, nothing panics, and every Send gets
// one of the documented outcomes — gorilla/websocket #390, #651.
// Runs on the real scheduler (not in a bubble) so -race sees real interleavings.
func TestConcurrentSendsNeverOverlapOrPanic_gorilla390(t *testing.T) {
	s := newFakeServer()
	s.onAccept = func(c *fakeConn) {
		go func() { // the server drops each connection after 20 messages
			n := 0
			for n < 20 {
				select {
				case <-c.toServer:
					n++
				case <-c.closed:
					return
				}
			}
			c.Drop(errors.New("drop"))
		}()
	}
	c := newClient(t, s, stream.Options[string]{
		Backoff: retry.Schedule{Initial: 50 * time.Microsecond, Max: time.Millisecond}, SendBuffer: 16,
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := startRun(ctx, c, (&collect{}).handle)
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcomes := map[string]int{}
	const senders = 8
	for g := range senders {
		wg.Go(func() {
			for i := 0; i < 100_000 && ctx.Err() == nil; i++ {
				if s.dials.Load() >= 10 {
					cancel() // Run ends while the others still send
				}
				err := c.Send(ctx, fmt.Sprint(g, "-", i))
				var k string
				switch {
				case err == nil:
					k = "ok"
				case errors.Is(err, stream.ErrSendBufferFull):
					k = "full"
				case errors.Is(err, errConnClosed), errors.Is(err, stream.ErrClosed), errors.Is(err, context.Canceled):
					k = "closed"
				default:
					k = err.Error()
				}
				mu.Lock()
				outcomes[k]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.ErrorIs(t, r.stop(), context.Canceled)
	assert.Equal(t, int32(0), s.overlaps.Load(), "overlapping writes")
	for k := range outcomes {
		assert.Contains(t, []string{"ok", "full", "closed"}, k)
	}
	assert.Positive(t, outcomes["ok"])
	assert.GreaterOrEqual(t, s.dials.Load(), int32(10))
	assert.Equal(t, int32(0), s.open.Load())
}

// A message the connection refuses without writing anything (a wrong
// WebSocket message type, any write on SSE) is the caller's mistake: Send
// returns the error and the healthy connection stays up.
func TestInvalidMessageDoesNotKillHealthyConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeServer()
		s.writeErr = func(m string) error {
			if m == "bad" {
				return fmt.Errorf("fake: cannot send %q: %w", m, stream.ErrInvalidMessage)
			}
			return nil
		}
		c := newClient(t, s, stream.Options[string]{SendBuffer: 4})
		ctx := t.Context()
		require.NoError(t, c.Send(ctx, "queued-1"))
		require.NoError(t, c.Send(ctx, "bad")) // queued while disconnected
		require.NoError(t, c.Send(ctx, "queued-2"))
		r := startRun(ctx, c, (&collect{}).handle)
		synctest.Wait()
		conn := s.next()
		require.NotNil(t, conn)
		assert.Equal(t, []string{"queued-1", "queued-2"}, conn.Recv(), "the refused queued message is dropped, the rest flushed")

		assert.ErrorIs(t, c.Send(ctx, "bad"), stream.ErrInvalidMessage)
		require.NoError(t, c.Send(ctx, "good"))
		assert.Equal(t, []string{"good"}, conn.Recv())
		st := c.Stats()
		assert.Equal(t, int64(1), st.Dials, "no redial")
		assert.Equal(t, int64(1), st.Dropped)
		assert.False(t, conn.isClosed())
		require.ErrorIs(t, r.stop(), context.Canceled)
	})
}

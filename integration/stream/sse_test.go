package streamit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
)

// sseRequest is one GET /events as sse-server.js saw it.
type sseRequest struct {
	N            int
	Ms           int // since the server started
	Status       int
	Accept       string
	CacheControl string
	LastEventID  *string
}

// sseStats is what sse-server.js reports on GET /stats.
type sseStats struct {
	Requests []sseRequest
	Sessions int
	Open     int
	Pushed   int
}

func (s *nodeServer) sseStats() sseStats {
	s.t.Helper()
	var st sseStats
	s.Stats(&st)
	return st
}

func newSSEClient(t *testing.T, d *sse.Dialer, o stream.Options[sse.Event]) *stream.Client[sse.Event] {
	t.Helper()
	c, err := stream.New[sse.Event](d, o)
	require.NoError(t, err)
	return c
}

// Issue 10 item 7: keep-alive comments did not count as traffic, so
// following the sse docs (IdleTimeout above the server's keep-alive
// interval) put a quiet stream into a reconnect loop, and an event pushed
// meanwhile was lost. better-sse sends a comment every 300ms; with
// IdleTimeout 1s the stream must stay on one connection for ~4s, and an
// event pushed at ~3s must arrive on it.
func TestSSEKeepAliveCommentsKeepAQuietStreamConnected(t *testing.T) {
	srv := startNode(t, "sse-server.js", 0, map[string]any{"keepAliveMs": 300})
	var rec recorder
	var got list[sse.Event]
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{
		IdleTimeout: time.Second,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, ev sse.Event) error {
			got.add(ev)
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return srv.sseStats().Open == 1 }, "the stream is open")
	connected := time.Now()

	time.Sleep(time.Until(connected.Add(3 * time.Second)))
	assert.Equal(t, "1", srv.Post("/push?id=1", "pushed at 3s"), "sessions the event was pushed to")
	eventually(t, 5*time.Second, func() bool { return got.len() == 1 }, "the pushed event")
	time.Sleep(time.Until(connected.Add(4 * time.Second)))

	assert.Empty(t, rec.disconnects(), "idle disconnects on a stream kept alive by comments")
	st := srv.sseStats()
	assert.Len(t, st.Requests, 1, "requests seen by the server")
	assert.Equal(t, 1, st.Sessions, "streams opened")
	assert.Equal(t, 1, st.Open, "streams open at the end")
	evs := got.get()
	require.Len(t, evs, 1)
	assert.Equal(t, "pushed at 3s", evs[0].Data)
	assert.Equal(t, "1", evs[0].ID)

	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

// Item 7: a partial event is activity too. The server writes one event a
// data line at a time, 150ms apart (about 1.05s), while IdleTimeout is
// 500ms and no keep-alive comment is sent: the event must arrive whole on
// the first connection.
func TestSSEEventArrivingInSlowPartsIsNotIdle(t *testing.T) {
	srv := startNode(t, "sse-server.js", 0, map[string]any{
		"slowEvent": map[string]any{"parts": 8, "intervalMs": 150},
	})
	var rec recorder
	var got list[sse.Event]
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{
		IdleTimeout: 500 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, ev sse.Event) error {
			got.add(ev)
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return got.len() >= 1 }, "the event")
	ev := got.get()[0]
	assert.Equal(t, "slow", ev.ID)
	assert.Equal(t, "part0\npart1\npart2\npart3\npart4\npart5\npart6\npart7", ev.Data)
	assert.Empty(t, rec.disconnects(), "idle disconnects while the event arrived")
	assert.Len(t, srv.sseStats().Requests, 1)
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

// The other side of item 7: comments are activity, silence is not. On a
// better-sse stream without keep-alive comments, IdleTimeout 300ms still
// ends each connection with ErrIdleTimeout.
func TestSSESilentStreamIsIdleTimedOut(t *testing.T) {
	srv := startNode(t, "sse-server.js", 0, map[string]any{})
	var rec recorder
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{
		IdleTimeout: 300 * time.Millisecond,
		Backoff:     fast,
		OnState:     rec.OnState,
	})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(context.Context, sse.Event) error { return nil })
	})
	eventually(t, 10*time.Second, func() bool { return len(rec.disconnects()) >= 2 }, "two idle disconnects")
	for i, e := range rec.disconnects()[:2] {
		assert.ErrorIs(t, e.Err, stream.ErrIdleTimeout, "disconnect %d", i+1)
	}
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
	assert.GreaterOrEqual(t, srv.sseStats().Sessions, 2)
}

// Issue 10 item 10: SSE requests sent Cache-Control: no-store, where
// browsers' EventSource (and LaunchDarkly's sse-contract-tests) send
// no-cache. And every request asks for text/event-stream.
func TestSSERequestsSendCacheControlNoCache(t *testing.T) {
	srv := startNode(t, "sse-server.js", 0, map[string]any{"feed": map[string]any{"total": 2, "per": 1}})
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{Backoff: fast})
	err := c.Run(bounded(t), func(context.Context, sse.Event) error { return nil })
	require.ErrorIs(t, err, sse.ErrNoContent)

	st := srv.sseStats()
	require.Len(t, st.Requests, 3, "two streams of one event, then 204")
	for _, q := range st.Requests {
		assert.Equal(t, "no-cache", q.CacheControl, "Cache-Control of request %d", q.N)
		assert.Equal(t, "text/event-stream", q.Accept, "Accept of request %d", q.N)
	}
}

// Item 10 and the lessons (go-sse lost the caller's Last-Event-ID on the
// first retry): a server that ends the stream every 6 events is resumed with
// Last-Event-ID, from the caller's own ID at first, and the handler sees
// every event once, in order; the server's 204 at the end stops Run.
func TestSSELastEventIDResumesAfterDropsWithoutLossOrDuplicates(t *testing.T) {
	const total, per, from = 20, 6, 2
	srv := startNode(t, "sse-server.js", 0, map[string]any{"feed": map[string]any{"total": total, "per": per}})
	var got list[sse.Event]
	d := &sse.Dialer{URL: srv.URL("http", "/events"), LastEventID: strconv.Itoa(from)}
	c := newSSEClient(t, d, stream.Options[sse.Event]{Backoff: fast})
	err := c.Run(bounded(t), func(_ context.Context, ev sse.Event) error {
		got.add(ev)
		return nil
	})
	require.ErrorIs(t, err, sse.ErrNoContent)
	assert.True(t, retry.IsPermanent(err))

	var ids, data []string
	for _, ev := range got.get() {
		ids = append(ids, ev.ID)
		data = append(data, ev.Data)
	}
	var wantIDs, wantData []string
	for id := from + 1; id <= total; id++ {
		wantIDs = append(wantIDs, strconv.Itoa(id))
		wantData = append(wantData, "event "+strconv.Itoa(id))
	}
	assert.Equal(t, wantIDs, ids, "every event once, in order")
	assert.Equal(t, wantData, data)

	var sent []string
	for _, q := range srv.sseStats().Requests {
		if q.LastEventID == nil {
			sent = append(sent, "<none>")
		} else {
			sent = append(sent, *q.LastEventID)
		}
	}
	assert.Equal(t, []string{"2", "8", "14", "20"}, sent, "Last-Event-ID of each request")
	assert.Equal(t, strconv.Itoa(total), d.ResumeID())
}

// Item 10: after a connection drop (the server destroys the socket
// mid-stream, no clean end), the client reconnects with the Last-Event-ID
// of the last event it read, and the stream goes on without loss or
// duplicate.
func TestSSEDroppedConnectionResumesFromLastEventID(t *testing.T) {
	srv := startNode(t, "sse-server.js", 0, map[string]any{})
	var got list[sse.Event]
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{Backoff: fast})
	r := start(t, t.Context(), func(ctx context.Context) error {
		return c.Run(ctx, func(_ context.Context, ev sse.Event) error {
			got.add(ev)
			return nil
		})
	})
	eventually(t, 10*time.Second, func() bool { return srv.sseStats().Open == 1 }, "the stream is open")
	for id := 1; id <= 3; id++ {
		require.Equal(t, "1", srv.Post("/push?id="+strconv.Itoa(id), "event "+strconv.Itoa(id)))
	}
	eventually(t, 10*time.Second, func() bool { return got.len() == 3 }, "events 1-3")
	require.Equal(t, "1", srv.Post("/drop", ""))
	eventually(t, 10*time.Second, func() bool { st := srv.sseStats(); return st.Sessions == 2 && st.Open == 1 }, "the second stream")
	require.Equal(t, "1", srv.Post("/push?id=4", "event 4"))
	eventually(t, 10*time.Second, func() bool { return got.len() == 4 }, "event 4")

	var ids []string
	for _, ev := range got.get() {
		ids = append(ids, ev.ID)
		assert.Equal(t, "event "+ev.ID, ev.Data)
	}
	assert.Equal(t, []string{"1", "2", "3", "4"}, ids)
	reqs := srv.sseStats().Requests
	require.Len(t, reqs, 2)
	assert.Nil(t, reqs[0].LastEventID, "no Last-Event-ID on the first request")
	if assert.NotNil(t, reqs[1].LastEventID) {
		assert.Equal(t, "3", *reqs[1].LastEventID, "Last-Event-ID after the drop")
	}
	r.cancel()
	require.ErrorIs(t, r.wait(t, 10*time.Second), context.Canceled)
}

// Lessons (r3labs ignored it): the server's retry field is a minimum
// reconnection delay. better-sse sends retry: 500 on each stream, which
// carries one event and ends; the client's own backoff is a few ms, yet the
// server sees its requests at least 500ms apart.
func TestSSERetryFieldSetsTheReconnectDelay(t *testing.T) {
	const retryMs = 500
	srv := startNode(t, "sse-server.js", 0, map[string]any{
		"retryMs": retryMs,
		"feed":    map[string]any{"total": 3, "per": 1},
	})
	var got list[sse.Event]
	c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{Backoff: fast})
	err := c.Run(bounded(t), func(_ context.Context, ev sse.Event) error {
		got.add(ev)
		return nil
	})
	require.ErrorIs(t, err, sse.ErrNoContent)
	require.Equal(t, 3, got.len())
	for _, ev := range got.get() {
		assert.Equal(t, retryMs*time.Millisecond, ev.Retry)
	}
	reqs := srv.sseStats().Requests
	require.Len(t, reqs, 4)
	for i := 1; i < len(reqs); i++ {
		// The server's clock on both ends, in whole ms: allow 1ms of rounding.
		assert.GreaterOrEqual(t, reqs[i].Ms-reqs[i-1].Ms, retryMs-1, "gap before request %d", reqs[i].N)
	}
}

// Statuses, as the sse docs promise: 204 stops at once, 503 is retried,
// 404 is permanent; each decided by the requests the server saw.
func TestSSEStatusesNoContentStopsUnavailableRetriedNotFoundPermanent(t *testing.T) {
	t.Run("204 stops", func(t *testing.T) {
		srv := startNode(t, "sse-server.js", 0, map[string]any{"always": 204})
		c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{Backoff: fast})
		err := c.Run(bounded(t), func(context.Context, sse.Event) error { return nil })
		require.ErrorIs(t, err, sse.ErrNoContent)
		assert.True(t, retry.IsPermanent(err))
		assert.Len(t, srv.sseStats().Requests, 1)
	})
	t.Run("503 retried", func(t *testing.T) {
		srv := startNode(t, "sse-server.js", 0, map[string]any{
			"statuses": []int{503, 503},
			"feed":     map[string]any{"total": 1, "per": 1},
		})
		var rec recorder
		var got list[sse.Event]
		c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{
			Backoff: fast,
			OnState: rec.OnState,
		})
		err := c.Run(bounded(t), func(_ context.Context, ev sse.Event) error {
			got.add(ev)
			return nil
		})
		require.ErrorIs(t, err, sse.ErrNoContent)
		require.Len(t, got.get(), 1)
		assert.Equal(t, "event 1", got.get()[0].Data)
		var statuses []int
		for _, q := range srv.sseStats().Requests {
			statuses = append(statuses, q.Status)
		}
		assert.Equal(t, []int{503, 503, 200, 204}, statuses)
		ds := rec.disconnects()
		require.GreaterOrEqual(t, len(ds), 2)
		for i, e := range ds[:2] {
			var se *sse.StatusError
			require.ErrorAs(t, e.Err, &se, "disconnect %d", i+1)
			assert.Equal(t, 503, se.Status)
			assert.False(t, retry.IsPermanent(e.Err))
		}
	})
	t.Run("404 permanent", func(t *testing.T) {
		srv := startNode(t, "sse-server.js", 0, map[string]any{"always": 404})
		c := newSSEClient(t, &sse.Dialer{URL: srv.URL("http", "/events")}, stream.Options[sse.Event]{Backoff: fast})
		err := c.Run(bounded(t), func(context.Context, sse.Event) error { return nil })
		var se *sse.StatusError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 404, se.Status)
		assert.True(t, retry.IsPermanent(err))
		assert.Len(t, srv.sseStats().Requests, 1)
	})
}

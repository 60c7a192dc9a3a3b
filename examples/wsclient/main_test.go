package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/workqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunReconnectsAndResubscribes(t *testing.T) {
	var out bytes.Buffer
	s, err := run(t.Context(), config{
		Subscribe: `{"op":"subscribe"}`, Duration: 3 * time.Second, Work: 2 * time.Millisecond, Workers: 2,
		Grace: time.Second, Heartbeat: 200 * time.Millisecond, TickEvery: 10 * time.Millisecond, DropEvery: 500 * time.Millisecond,
	}, &out)
	require.NoError(t, err, out.String())

	assert.GreaterOrEqual(t, s.Connects, uint64(4), "the feed drops every 500ms: the client came back")
	assert.Positive(t, s.DeadPeers, "the heartbeat found the feed playing dead")
	assert.Equal(t, s.Connects, s.MessagesOut, "one subscription per connection")
	assert.Positive(t, s.MessagesIn, "ticks arrive only after subscribing, so re-subscribing worked")
	assert.Equal(t, s.Accepted, s.Processed+s.Failed, "every accepted message has an outcome")
	assert.Zero(t, s.Failed)
	assert.LessOrEqual(t, s.Accepted, int64(s.MessagesIn))
	assert.GreaterOrEqual(t, s.Accepted, int64(s.MessagesIn)-1, "at most the message in hand at the end is refused")
	assert.GreaterOrEqual(t, s.Missed, int64(0))
	assert.Equal(t, 1, s.States["closed"])
	assert.GreaterOrEqual(t, s.States["disconnected"], 3)
	assert.Contains(t, out.String(), "connected")
	assert.Contains(t, out.String(), "queue:")
}

func TestRunStopsOnCancelWhileSlowConsumerIsBackedUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond) // "Ctrl+C"
	defer cancel()
	s, err := run(ctx, config{
		Subscribe: `{"op":"subscribe"}`, Duration: time.Minute, Work: 100 * time.Millisecond,
		Workers: 1, Grace: 100 * time.Millisecond, Heartbeat: time.Second, TickEvery: time.Millisecond, DropEvery: time.Minute, Quiet: true,
	}, &bytes.Buffer{})
	require.ErrorIs(t, err, workqueue.ErrShutdown, "the backlog did not fit in the grace period, and run says so")
	assert.Equal(t, s.Accepted, s.Processed+s.Failed, "every accepted message has an outcome")
	assert.Positive(t, s.Failed, "queued messages were dropped at the forced shutdown")
	assert.Positive(t, s.Missed, "the slow consumer pushed back: ticks stayed unread")
}

func TestRunReportsARefusedHandshake(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	_, err := run(t.Context(), config{URL: srv.URL, Duration: 5 * time.Second, Workers: 1, Heartbeat: time.Second, Quiet: true}, &bytes.Buffer{})
	require.Error(t, err, "a 403 is permanent: Run stops instead of retrying")
	assert.Contains(t, err.Error(), "403")
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/examples/internal/cmdtest"
	"github.com/sluicego/sluice/stream"
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

	assert.GreaterOrEqual(t, s.Connects, int64(4), "the feed drops every 500ms: the client came back")
	assert.Positive(t, s.DeadPeers, "the heartbeat found the feed playing dead")
	assert.Equal(t, s.Connects, s.MessagesOut, "one subscription per connection")
	assert.Positive(t, s.MessagesIn, "ticks arrive only after subscribing, so re-subscribing worked")
	assert.Equal(t, s.Accepted, s.Processed+s.Failed+s.Canceled, "every accepted message has an outcome")
	assert.Zero(t, s.Failed+s.Canceled)
	assert.False(t, s.Interrupted, "-duration is the normal end")
	assert.NotContains(t, out.String(), "interrupted")
	assert.LessOrEqual(t, s.Accepted, int64(s.MessagesIn))
	assert.GreaterOrEqual(t, s.Accepted, int64(s.MessagesIn)-1, "at most the message in hand at the end is refused")
	assert.GreaterOrEqual(t, s.Missed, int64(0))
	assert.Equal(t, 1, s.States["closed"])
	assert.GreaterOrEqual(t, s.States["disconnected"], 3)
	assert.Contains(t, out.String(), "connected")
	assert.Contains(t, out.String(), "queue:")
}

// Issue 10 item 13: Ctrl+C says "interrupted", maps to exit status 130, and
// counts the messages the forced shutdown cut short as canceled, not failed.
func TestRunInterruptedWhileSlowConsumerIsBackedUpCountsCanceledApart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cmdtest.CancelOn{Marker: "received", Cancel: cancel} // the first progress line
	s, err := run(ctx, config{
		Subscribe: `{"op":"subscribe"}`, Duration: time.Minute, Work: 100 * time.Millisecond,
		Workers: 1, Grace: 100 * time.Millisecond, Heartbeat: time.Second, TickEvery: time.Millisecond,
		DropEvery: time.Minute, Progress: 200 * time.Millisecond, Quiet: true,
	}, out)
	require.ErrorIs(t, err, errInterrupted)
	assert.Equal(t, exitInterrupted, exitStatus(err))
	assert.True(t, s.Interrupted)
	assert.Equal(t, s.Accepted, s.Processed+s.Failed+s.Canceled, "every accepted message has an outcome")
	assert.Positive(t, s.Canceled, "queued messages were dropped at the forced shutdown")
	assert.Zero(t, s.Failed, "a message cut short is not a failure")
	assert.Positive(t, s.Missed, "the slow consumer pushed back: ticks stayed unread")
	assert.Contains(t, out.String(), "interrupted after")
	assert.Contains(t, out.String(), fmt.Sprintf("%d failed + %d canceled", s.Failed, s.Canceled))
}

func TestStateChangesPrintRoundedDelays(t *testing.T) {
	e := stream.StateEvent{State: stream.StateDisconnected, Attempt: 2, Delay: 11981427 * time.Nanosecond, Err: errors.New("EOF")}
	assert.Equal(t, "disconnected (attempt 2, retry in 12ms): EOF", describe(e))
}

func TestExitStatus(t *testing.T) {
	_, errHelp := parseFlags([]string{"-h"}, &bytes.Buffer{})
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errHelp, 0},
		{fmt.Errorf("%w: -workers 0", errUsage), 2},
		{errInterrupted, 130},
		{fmt.Errorf("%w: %w", workqueue.ErrShutdown, context.DeadlineExceeded), 1},
		{errors.New("websocket: handshake: 403"), 1},
	} {
		assert.Equal(t, tc.want, exitStatus(tc.err), "%v", tc.err)
	}
}

func TestHelpOpensWithWhatTheProgramDoesAndMeans(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	assert.Equal(t, exitOK, exitStatus(err))
	assert.True(t, strings.HasPrefix(stderr.String(), "wsclient consumes a WebSocket feed"), stderr.String())
	assert.Contains(t, stderr.String(), "130 when interrupted")
	assert.Contains(t, stderr.String(), "-heartbeat")
	_, err = parseFlags([]string{"-workers", "0"}, &stderr)
	assert.Equal(t, exitUsage, exitStatus(err))
}

// A real Ctrl+C: the built program, interrupted once it has printed a
// progress line, says so and exits with status 130.
func TestCtrlCExitsWith130(t *testing.T) {
	stdout, stderr, code := cmdtest.InterruptBuiltProgram(t,
		[]string{"-duration", "1m", "-progress", "100ms", "-grace", "100ms"}, "received")
	assert.Equal(t, exitInterrupted, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "interrupted after")
	assert.Contains(t, stderr, "wsclient: interrupted")
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

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/examples/internal/cmdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunAccountsForEveryCall(t *testing.T) {
	var out bytes.Buffer
	s, err := run(t.Context(), config{Calls: 60, Concurrency: 4, FailRate: 0.3, Seed: 7}, &out)
	require.NoError(t, err)
	assert.Equal(t, int64(60), s.OK+s.Failed, "every call ends once")
	assert.Zero(t, s.Canceled+s.NotStarted)
	assert.LessOrEqual(t, s.MaxInFlight, int64(4), "the semaphore caps concurrency")
	assert.Positive(t, s.Retries, "with a 30%% failure rate some calls were retried")
	assert.Contains(t, out.String(), "calls: 60 = ")
	assert.NotContains(t, out.String(), "interrupted")
	assert.Equal(t, exitOK, exitStatus(err))
}

// Issue 10 item 13: Ctrl+C says "interrupted", maps to exit status 130,
// counts the calls it cut short as canceled, not failed, and accounts for
// the calls it never started.
func TestInterruptedRunCountsCanceledAndNeverStartedCalls(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cmdtest.CancelOn{Marker: "s [", Cancel: cancel} // the first progress line
	s, err := run(ctx, config{Calls: 1_000_000, Concurrency: 8, FailRate: 0.3, Seed: 7, Progress: 20 * time.Millisecond}, out)
	require.ErrorIs(t, err, errInterrupted)
	assert.Equal(t, exitInterrupted, exitStatus(err))
	assert.True(t, s.Interrupted)
	assert.Equal(t, s.Calls, s.OK+s.Failed+s.Canceled+s.NotStarted, "every call is accounted for")
	assert.Positive(t, s.NotStarted)
	assert.Contains(t, out.String(), "interrupted: ")
	assert.Contains(t, out.String(), "never started")
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "failed:") {
			assert.NotContains(t, line, "context canceled", "a canceled call is not a failure")
		}
	}
}

func TestExitStatus(t *testing.T) {
	_, errHelp := parseFlags([]string{"-h"}, &bytes.Buffer{})
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errHelp, 0},
		{fmt.Errorf("%w: -c 0", errUsage), 2},
		{errInterrupted, 130},
		{errors.New("calls do not add up"), 1},
	} {
		assert.Equal(t, tc.want, exitStatus(tc.err), "%v", tc.err)
	}
}

func TestHelpOpensWithWhatTheProgramDoesAndMeans(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	assert.Equal(t, exitOK, exitStatus(err))
	assert.True(t, strings.HasPrefix(stderr.String(), "retrydemo makes calls"), stderr.String())
	assert.Contains(t, stderr.String(), "130 when interrupted")
	assert.Contains(t, stderr.String(), "-calls")
	_, err = parseFlags([]string{"-c", "0"}, &stderr)
	assert.Equal(t, exitUsage, exitStatus(err))
}

// A real Ctrl+C: the built program, interrupted once it has printed a
// progress line, says so and exits with status 130.
func TestCtrlCExitsWith130(t *testing.T) {
	stdout, stderr, code := cmdtest.InterruptBuiltProgram(t, []string{"-calls", "1000000", "-progress", "20ms"}, "s [")
	assert.Equal(t, exitInterrupted, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "interrupted:")
	assert.Contains(t, stderr, "retrydemo: interrupted")
}

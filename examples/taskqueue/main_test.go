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
	"github.com/sluicego/sluice/workqueue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig() config {
	return config{Jobs: 120, Workers: 5, Capacity: 10, FailRate: 0.15, PoisonRate: 0.03,
		Work: 2 * time.Millisecond, Grace: time.Second, Seed: 7}
}

func TestRunAccountsForEveryJob(t *testing.T) {
	var out bytes.Buffer
	s, err := run(t.Context(), testConfig(), &out)
	require.NoError(t, err)
	assert.Equal(t, int64(120), s.Submitted)
	assert.Equal(t, s.Submitted, s.total(), "every job has exactly one outcome")
	assert.Zero(t, s.NotSubmitted)
	assert.Positive(t, s.OK)
	assert.Positive(t, s.RetriedOK, "transient failures were retried to success")
	assert.Positive(t, s.DeadPermanent, "poison jobs were dead-lettered")
	assert.GreaterOrEqual(t, s.Retries, s.RetriedOK)
	assert.Zero(t, s.Canceled+s.Dropped, "nothing is cut short without Ctrl+C")
	assert.Len(t, s.DeadLetters, int(s.DeadPermanent+s.DeadExhausted))
	assert.Contains(t, out.String(), "dead-lettered (permanent)")
	assert.NotContains(t, out.String(), "interrupted")
	assert.Equal(t, exitOK, exitStatus(err))
}

func TestRunIsDeterministicForASeed(t *testing.T) {
	a, err := run(t.Context(), testConfig(), &bytes.Buffer{})
	require.NoError(t, err)
	b, err := run(t.Context(), testConfig(), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, a.DeadLetters, b.DeadLetters)
	assert.Equal(t, []int64{a.OK, a.RetriedOK, a.Retries}, []int64{b.OK, b.RetriedOK, b.Retries})
}

// Issue 10 item 13: Ctrl+C says "interrupted", maps to exit status 130, and
// counts the jobs it cut short as canceled, dropped or never submitted,
// never as failed.
func TestInterruptedRunSaysSoAndCountsNothingCutShortAsFailed(t *testing.T) {
	cfg := testConfig()
	cfg.Jobs, cfg.Work, cfg.Grace, cfg.Progress = 400, 50*time.Millisecond, 30*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cmdtest.CancelOn{Marker: "s [", Cancel: cancel} // the first progress line
	s, err := run(ctx, cfg, out)
	require.ErrorIs(t, err, errInterrupted)
	assert.Equal(t, exitInterrupted, exitStatus(err))

	assert.True(t, s.Interrupted)
	assert.Contains(t, out.String(), "interrupted: stopped submitting")
	assert.Contains(t, out.String(), "cut short")
	assert.Equal(t, s.Jobs, s.Submitted+s.NotSubmitted, "every job asked for is accounted for")
	assert.Equal(t, s.Submitted, s.total(), "every accepted job has exactly one outcome")
	assert.Positive(t, s.NotSubmitted, "submission stopped")
	assert.Positive(t, s.Canceled+s.Dropped, "the short grace period cut jobs short")
	assert.Less(t, s.done(), s.Jobs)
	assert.NotContains(t, out.String(), fmt.Sprintf("[%4d/%d]", s.Jobs, s.Jobs), "no finished-looking progress")
	// A dead letter is a job that really failed, never one cut short.
	for line := range strings.Lines(out.String()) {
		if strings.HasPrefix(line, "dead letter:") {
			assert.NotContains(t, line, "canceled")
			assert.NotContains(t, line, "shutdown")
			assert.True(t, strings.Contains(line, errPoison.Error()) || strings.Contains(line, errTransient.Error()), line)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{flagErrHelp(t), 0},
		{fmt.Errorf("%w: -workers 0", errUsage), 2},
		{errInterrupted, 130},
		{errors.New("outcomes do not add up"), 1},
		{fmt.Errorf("%w: %w", workqueue.ErrShutdown, context.DeadlineExceeded), 1},
	} {
		assert.Equal(t, tc.want, exitStatus(tc.err), "%v", tc.err)
	}
}

func flagErrHelp(t *testing.T) error {
	_, err := parseFlags([]string{"-h"}, &bytes.Buffer{})
	return err
}

func TestHelpOpensWithWhatTheProgramDoesAndMeans(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	assert.Equal(t, exitOK, exitStatus(err))
	assert.True(t, strings.HasPrefix(stderr.String(), "taskqueue runs simulated jobs"), stderr.String())
	assert.Contains(t, stderr.String(), "130 when interrupted")
	assert.Contains(t, stderr.String(), "-grace")

	_, err = parseFlags([]string{"-workers", "0"}, &stderr)
	assert.Equal(t, exitUsage, exitStatus(err))
	_, err = parseFlags([]string{"-bogus"}, &stderr)
	assert.Equal(t, exitUsage, exitStatus(err))
}

// A real Ctrl+C: the built program, interrupted once it has printed a
// progress line, says so and exits with status 130.
func TestCtrlCExitsWith130(t *testing.T) {
	stdout, stderr, code := cmdtest.InterruptBuiltProgram(t,
		[]string{"-jobs", "400", "-work", "50ms", "-progress", "20ms", "-grace", "50ms"}, "s [")
	assert.Equal(t, exitInterrupted, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "interrupted:")
	assert.Contains(t, stderr, "taskqueue: interrupted")
}

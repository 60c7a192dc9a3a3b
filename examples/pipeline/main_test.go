package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	return config{N: 150, Fetchers: 8, Transformers: 4, Capacity: 8,
		WriteDelay: 2 * time.Millisecond, Grace: time.Second, Progress: 50 * time.Millisecond}
}

func TestPipelineAccountsForEveryURLAndPushesBack(t *testing.T) {
	cfg := testConfig()
	cfg.Out = filepath.Join(t.TempDir(), "out.jsonl")
	var out bytes.Buffer
	s, err := run(t.Context(), cfg, &out)
	require.NoError(t, err, out.String())

	assert.Equal(t, 150, s.total(), "every URL ends exactly once")
	assert.Positive(t, s.FetchFailed["HTTP 404"], "missing documents")
	assert.Positive(t, s.TransformFailed, "documents without a title")
	assert.Zero(t, s.Canceled+s.WriteFailed)
	assert.NotContains(t, out.String(), "interrupted")
	for _, g := range s.Gauges {
		assert.Positive(t, g.blocked.Load(), "%s: the slow writer pushed back", g.name)
		assert.LessOrEqual(t, g.maxDepth.Load(), int64(cfg.Capacity), "%s: bounded", g.name)
		assert.Equal(t, int64(cfg.Capacity), g.maxDepth.Load(), "%s: the queue filled up", g.name)
	}
	assert.Contains(t, out.String(), "write queue")

	f, err := os.Open(cfg.Out)
	require.NoError(t, err)
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		assert.NotEmpty(t, r.Title)
	}
	assert.Equal(t, s.Written, lines)
}

func TestPipelineWithoutSlowWriterDoesNotBlock(t *testing.T) {
	cfg := testConfig()
	cfg.WriteDelay, cfg.Progress = 0, 0
	s, err := run(t.Context(), cfg, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 150, s.total())
	blocked := time.Duration(s.Gauges[0].blocked.Load())
	assert.Less(t, blocked, s.Elapsed/2, "with a fast sink the fetch loop is not held back for long")
}

// Issue 10 item 13: Ctrl+C says "interrupted", maps to exit status 130, and
// counts every URL it cut short as canceled, never as failed, even when the
// grace period runs out and the queues are forced to stop.
func TestPipelineInterruptedSaysSoAndCountsCanceledURLsApart(t *testing.T) {
	cfg := testConfig()
	cfg.N, cfg.WriteDelay, cfg.Grace, cfg.Progress = 1000, 20*time.Millisecond, 50*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cmdtest.CancelOn{Marker: "fetched", Cancel: cancel} // the first progress line
	s, err := run(ctx, cfg, out)
	require.ErrorIs(t, err, errInterrupted)
	assert.Equal(t, exitInterrupted, exitStatus(err))
	assert.True(t, s.Interrupted)
	assert.Equal(t, 1000, s.total(), "every URL ends exactly once, even so")
	assert.Positive(t, s.Canceled)
	assert.Zero(t, s.WriteFailed, "a write cut short is canceled, not failed")
	assert.NotContains(t, s.FetchFailed, "canceled")
	assert.NotContains(t, out.String(), "fetched 1000/1000", "no finished-looking progress")
	assert.Contains(t, out.String(), fmt.Sprintf("interrupted: %d of 1000 URLs written, %d canceled", s.Written, s.Canceled))
}

func TestExitStatus(t *testing.T) {
	_, errHelp := parseFlags([]string{"-h"}, &bytes.Buffer{})
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errHelp, 0},
		{fmt.Errorf("%w: -capacity 0", errUsage), 2},
		{errInterrupted, 130},
		{fmt.Errorf("%w: %w", workqueue.ErrShutdown, context.DeadlineExceeded), 1},
	} {
		assert.Equal(t, tc.want, exitStatus(tc.err), "%v", tc.err)
	}
}

func TestHelpOpensWithWhatTheProgramDoesAndMeans(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	assert.Equal(t, exitOK, exitStatus(err))
	assert.True(t, strings.HasPrefix(stderr.String(), "pipeline fetches documents"), stderr.String())
	assert.Contains(t, stderr.String(), "130 when interrupted")
	assert.Contains(t, stderr.String(), "-write-delay")
	_, err = parseFlags([]string{"-capacity", "0"}, &stderr)
	assert.Equal(t, exitUsage, exitStatus(err))
}

// A real Ctrl+C: the built program, interrupted once it has printed a
// progress line, says so and exits with status 130.
func TestCtrlCExitsWith130(t *testing.T) {
	stdout, stderr, code := cmdtest.InterruptBuiltProgram(t,
		[]string{"-n", "1000", "-write-delay", "20ms", "-grace", "50ms", "-progress", "20ms"}, "fetched")
	assert.Equal(t, exitInterrupted, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "interrupted:")
	assert.Contains(t, stderr, "pipeline: interrupted")
}

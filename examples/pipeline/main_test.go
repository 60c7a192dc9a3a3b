package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

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
	assert.Zero(t, s.Lost+s.WriteFailed)
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

func TestPipelineInterruptedStillAddsUp(t *testing.T) {
	cfg := testConfig()
	cfg.N, cfg.WriteDelay, cfg.Grace = 1000, 20*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond) // "Ctrl+C"
	defer cancel()
	s, err := run(ctx, cfg, &bytes.Buffer{})
	require.ErrorIs(t, err, workqueue.ErrShutdown, "the short grace period cut the backlog")
	assert.Equal(t, 1000, s.total(), "every URL ends exactly once, even so")
	assert.Positive(t, s.Lost)
}

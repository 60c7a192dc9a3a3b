package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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
	assert.Positive(t, s.OK)
	assert.Positive(t, s.RetriedOK, "transient failures were retried to success")
	assert.Positive(t, s.DeadPermanent, "poison jobs were dead-lettered")
	assert.GreaterOrEqual(t, s.Retries, s.RetriedOK)
	assert.Zero(t, s.Canceled+s.Dropped, "nothing is cut short without Ctrl+C")
	assert.Len(t, s.DeadLetters, int(s.DeadPermanent+s.DeadExhausted))
	assert.Contains(t, out.String(), "dead-lettered (permanent)")
}

func TestRunIsDeterministicForASeed(t *testing.T) {
	a, err := run(t.Context(), testConfig(), &bytes.Buffer{})
	require.NoError(t, err)
	b, err := run(t.Context(), testConfig(), &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, a.DeadLetters, b.DeadLetters)
	assert.Equal(t, []int64{a.OK, a.RetriedOK, a.Retries}, []int64{b.OK, b.RetriedOK, b.Retries})
}

func TestInterruptShutsDownAndStillAddsUp(t *testing.T) {
	cfg := testConfig()
	cfg.Jobs, cfg.Work, cfg.Grace = 400, 50*time.Millisecond, 30*time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond) // "Ctrl+C" mid-run
	defer cancel()
	s, err := run(ctx, cfg, &bytes.Buffer{})
	require.Error(t, err, "an interrupted run reports why it stopped")
	assert.Less(t, s.Submitted, int64(400), "submission stopped")
	assert.Equal(t, s.Submitted, s.total(), "every accepted job has exactly one outcome")
	assert.Positive(t, s.Canceled+s.Dropped, "the short grace period cut jobs short")
}

package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunAccountsForEveryCall(t *testing.T) {
	var out bytes.Buffer
	s, err := run(t.Context(), config{Calls: 60, Concurrency: 4, FailRate: 0.3, Seed: 7}, &out)
	require.NoError(t, err)
	assert.Equal(t, int64(60), s.OK+s.Failed, "every call ends once")
	assert.LessOrEqual(t, s.MaxInFlight, int64(4), "the semaphore caps concurrency")
	assert.Positive(t, s.Retries, "with a 30%% failure rate some calls were retried")
	assert.Contains(t, out.String(), "calls: ")
}

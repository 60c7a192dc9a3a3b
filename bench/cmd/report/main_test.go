package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const out = `goos: linux
BenchmarkRetry/first-try/sluice-2     100  10.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/sluice-2     100  12.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/sluice-2     100  30.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/peer-2       100  200 ns/op  80 B/op  3 allocs/op
BenchmarkWorkqueue/noop-1sub-8w/sluice-2   100  150 ns/op  0 B/op  0 allocs/op
BenchmarkWorkqueue/noop-1sub-8w/channel-2  100  100 ns/op  0 B/op  0 allocs/op
`

func TestParseMediansAndTargets(t *testing.T) {
	samples, err := parse(strings.NewReader(out))
	require.NoError(t, err)
	require.Len(t, samples, 4)
	assert.Equal(t, 12.0, samples[0].nsMedian(), "median of 10, 12, 30")
	lines, ok := check(samples)
	assert.True(t, ok, "%v", lines)
	assert.Len(t, lines, 2)

	missed, _ := parse(strings.NewReader(strings.Replace(out, "150 ns/op", "151 ns/op", 1)))
	lines, ok = check(missed)
	assert.False(t, ok)
	assert.Contains(t, strings.Join(lines, "\n"), "MISSED  Workqueue noop-1sub-8w")

	svg := chart(samples, "test machine")
	assert.Contains(t, svg, "<svg")
	assert.Contains(t, svg, "8 workers")
}

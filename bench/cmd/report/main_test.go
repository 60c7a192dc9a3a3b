package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const out = `goos: linux
BenchmarkRetry/first-try/sluice-2     100  10.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/sluice-2     100  12.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/sluice-2     100  30.0 ns/op  0 B/op  0 allocs/op
BenchmarkRetry/first-try/peer-2       100  200 ns/op  80 B/op  3 allocs/op
BenchmarkWorkqueue/noop-1sub-8w/sluice-2   100  150 ns/op  0 B/op  0 allocs/op
BenchmarkWorkqueue/noop-1sub-8w/channel-2  100  100 ns/op  0 B/op  0 allocs/op
`

const mixOut = `BenchmarkFetchMix/5k-mix-c64/sluice-2  1  1500000000 ns/op  1.3 batch/slowest  1100 slowest-ms  5000 B/op  500000 allocs/op
BenchmarkFetchMix/5k-mix-c64/sluice-2  1  1500000000 ns/op  1.3 batch/slowest  1100 slowest-ms  5000 B/op  500000 allocs/op
BenchmarkFetchMix/5k-mix-c64/naive-2   1  3000000000 ns/op  3.5 batch/slowest
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

	mix, _ := parse(strings.NewReader(mixOut))
	lines, ok = check(mix)
	assert.False(t, ok, "median batch/slowest 1.3 > 1.2")
	assert.Contains(t, strings.Join(lines, "\n"), "MISSED  FetchMix 5k-mix-c64")
	assert.Contains(t, strings.Join(lines, "\n"), "batch/slowest 1.30")
	var tb strings.Builder
	table(&tb, mix)
	assert.Contains(t, tb.String(), "| batch/slowest |")
	assert.Contains(t, tb.String(), "| 5k-mix-c64 | sluice | 1.50 s | 500000 | — | 1.3 | 1100 |")
	assert.Contains(t, tb.String(), "| 5k-mix-c64 | naive | 3.00 s | 0 | 0.50× | 3.5 | — |")
	met, _ := parse(strings.NewReader(strings.ReplaceAll(mixOut, "1.3 batch", "1.1 batch")))
	_, ok = check(met)
	assert.True(t, ok)

	svg := chart(samples, "test machine")
	assert.Contains(t, svg, "<svg")
	assert.Contains(t, svg, "8 workers")
}

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

const streamsOut = `BenchmarkStreams/ws/sluice-2     1  3771103531 ns/op  30000 B/client  2 goroutines/client  2466 cpu-ns/msg  6 max-bucket-%
BenchmarkStreams/ws/raw-coder-2  1  2447972602 ns/op  25000 B/client  1 goroutines/client  3079 cpu-ns/msg  67 max-bucket-%
`

func TestMetricRatioTargets(t *testing.T) {
	samples, err := parse(strings.NewReader(streamsOut))
	require.NoError(t, err)
	lines, ok := check(samples)
	assert.True(t, ok, "%v", lines)
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "met     Streams ws: ≤ 1.25× the raw loop's memory per idle client (B/client 30000 vs raw-coder 25000, 1.20×)")
	assert.Contains(t, all, "goroutines/client 2 vs raw-coder 1, +1")
	assert.Contains(t, all, "info    Streams ws: CPU per message")

	missed, _ := parse(strings.NewReader(strings.Replace(streamsOut, "2 goroutines/client", "2.5 goroutines/client", 1)))
	lines, ok = check(missed)
	assert.False(t, ok)
	assert.Contains(t, strings.Join(lines, "\n"), "MISSED  Streams ws: ≤ 1 goroutine")
}

func TestScalingChart(t *testing.T) {
	samples, err := parse(strings.NewReader(`BenchmarkScaling/fetch-c1/sluice-2  100  1100000 ns/op
BenchmarkScaling/fetch-c1/nethttp-2  100  1050000 ns/op
BenchmarkScaling/fetch-c2/sluice-2  100  550000 ns/op
BenchmarkScaling/fetch-c2/nethttp-2  100  540000 ns/op
BenchmarkScaling/workqueue-w1/sluice-2  100  10500 ns/op
BenchmarkScaling/workqueue-w1/channel-2  100  10400 ns/op
`))
	require.NoError(t, err)
	svg := scalingChart(samples, "test machine")
	assert.Contains(t, svg, "<polyline")
	assert.Contains(t, svg, "nethttp, 2: 1852/s")
	assert.Contains(t, svg, "channel, 1: 96154/s")
}

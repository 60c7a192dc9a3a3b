package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testConfig() config {
	return config{N: 200, Concurrency: 16, PerHost: 8, Timeout: time.Second,
		Seed: 1, Progress: 500 * time.Millisecond}
}

func TestScrapeEmbeddedSitesAddsUp(t *testing.T) {
	cfg := testConfig()
	cfg.Out = filepath.Join(t.TempDir(), "results.jsonl")
	var out bytes.Buffer
	s, err := run(t.Context(), cfg, &out)
	require.NoError(t, err, out.String())

	assert.Equal(t, 200, s.Total)
	assert.Equal(t, s.Total, s.OK+s.failed(), "every page has exactly one result")
	assert.Greater(t, s.OK, 150)
	assert.Equal(t, 2, s.Failed["robots.txt disallows"])
	for _, reason := range []string{"HTTP 404", "HTTP 503", "connection reset", "attempt timeout"} {
		assert.Positive(t, s.Failed[reason], "the sites' %q shows up", reason)
	}
	assert.Positive(t, s.Retries)
	assert.LessOrEqual(t, s.P50, s.P95)
	assert.Equal(t, "www 8 (cap 8), api 2 (cap 2)", s.MaxInFlight, "the per-host caps held")
	assert.Contains(t, out.String(), "[ 200/200]")
	assert.Contains(t, out.String(), "p95")

	// -o wrote one JSON record per page, with the same tallies.
	f, err := os.Open(cfg.Out)
	require.NoError(t, err)
	defer f.Close()
	byReason := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		byReason[rec.Reason]++
	}
	assert.Equal(t, s.OK, byReason["ok"])
	delete(byReason, "ok")
	assert.Equal(t, s.Failed, byReason)
}

func TestScrapeInterruptedStillAddsUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond) // "Ctrl+C"
	defer cancel()
	s, err := run(ctx, testConfig(), &bytes.Buffer{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, s.Total, s.OK+s.failed())
	assert.Positive(t, s.Failed["canceled"], "pages not fetched yet are reported canceled")
}

func TestScrapeURLList(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "hello")
	}))
	defer srv.Close()
	list := filepath.Join(t.TempDir(), "urls.txt")
	require.NoError(t, os.WriteFile(list,
		[]byte("# test\n"+srv.URL+"/a\n\n"+srv.URL+"/b\n"+srv.URL+"/missing\n"), 0o600))
	urls, err := readURLs(list)
	require.NoError(t, err)

	cfg := testConfig()
	cfg.URLs = urls
	var out bytes.Buffer
	s, err := run(t.Context(), cfg, &out)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Total)
	assert.Equal(t, 2, s.OK)
	assert.Equal(t, map[string]int{"HTTP 404": 1}, s.Failed)
	assert.NotContains(t, out.String(), "max in flight", "no embedded sites")
}

func TestScrapeStopsCleanlyWhenOutputFails(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("needs /dev/full")
	}
	cfg := testConfig()
	cfg.Out = "/dev/full" // every write fails with ENOSPC once the buffer flushes
	s, err := run(t.Context(), cfg, &bytes.Buffer{})
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, s.Total, s.OK+s.failed(), "still every page accounted for")
	assert.Positive(t, s.Failed["canceled"], "fetching stopped early")
}

// The summary's categories come from Result.Outcome, so errors that match
// several sentinels land in one place.
func TestReasonFollowsOutcome(t *testing.T) {
	for want, r := range map[string]fetch.Result{
		"canceled": {Status: 503, Err: &retry.Error{Reason: context.Canceled,
			Last: &fetch.StatusError{Status: 503}, Attempts: 1}}, // Ctrl+C during the backoff
		"attempt timeout": {Err: fmt.Errorf("%w: %w", fetch.ErrTimeout, context.DeadlineExceeded)},
		"HTTP 404":        {Status: 404, Err: &fetch.StatusError{Status: 404}},
		"ok":              {Body: []byte("x")},
	} {
		assert.Equal(t, want, reason(r), "%v", r.Err)
	}
}

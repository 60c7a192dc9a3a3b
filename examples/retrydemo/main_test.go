package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	assert.Zero(t, s.Canceled+s.NotStarted)
	assert.LessOrEqual(t, s.MaxInFlight, int64(4), "the semaphore caps concurrency")
	assert.Positive(t, s.Retries, "with a 30%% failure rate some calls were retried")
	assert.Contains(t, out.String(), "calls: 60 = ")
	assert.NotContains(t, out.String(), "interrupted")
	assert.Equal(t, exitOK, exitStatus(err))
}

// cancelOn is run's output in the tests: it cancels the run's context, as a
// Ctrl+C would, once the output contains marker.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func (c *cancelOn) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.buf.String() }

// Issue 10 item 13: Ctrl+C says "interrupted", maps to exit status 130,
// counts the calls it cut short as canceled, not failed, and accounts for
// the calls it never started.
func TestInterruptedRunCountsCanceledAndNeverStartedCalls(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &cancelOn{marker: "s [", cancel: cancel} // the first progress line
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
	stdout, stderr, code := interruptBuiltProgram(t, []string{"-calls", "1000000", "-progress", "20ms"}, "s [")
	assert.Equal(t, exitInterrupted, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "interrupted:")
	assert.Contains(t, stderr, "retrydemo: interrupted")
}

// interruptBuiltProgram builds this package, runs it with args, sends it
// SIGINT once its output contains marker, and returns what it printed and
// its exit status.
func interruptBuiltProgram(t *testing.T, args []string, marker string) (stdout, stderr string, code int) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the program with")
	}
	bin := filepath.Join(t.TempDir(), "prog")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a bound, not a wait
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	pipe, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var outBuf strings.Builder
	sent := false
	for sc := bufio.NewScanner(pipe); sc.Scan(); {
		outBuf.WriteString(sc.Text() + "\n")
		if !sent && strings.Contains(sc.Text(), marker) {
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			sent = true
		}
	}
	err = cmd.Wait()
	require.True(t, sent, "the marker %q never appeared", marker)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	return outBuf.String(), errBuf.String(), cmd.ProcessState.ExitCode()
}

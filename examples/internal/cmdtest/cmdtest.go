// Package cmdtest is what the example programs' tests share: an output that
// cancels a run as Ctrl+C would, and a run of the built program under a real
// SIGINT. It serves the examples' tests only; the programs themselves stay
// self-contained and do not import it.
package cmdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// CancelOn is a run's output in the tests: it calls Cancel, as a Ctrl+C
// would cancel the run's context, once the output contains Marker.
type CancelOn struct {
	Marker string
	Cancel context.CancelFunc

	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *CancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.Marker) {
		c.Cancel()
	}
	return len(p), nil
}

// String returns what was written so far.
func (c *CancelOn) String() string { c.mu.Lock(); defer c.mu.Unlock(); return c.buf.String() }

// InterruptBuiltProgram builds the package in the working directory (the
// calling test's), runs it with args, sends it SIGINT once its output
// contains marker, and returns what it printed and its exit status. It skips
// the test under -short or without a go command.
func InterruptBuiltProgram(t *testing.T, args []string, marker string) (stdout, stderr string, code int) {
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

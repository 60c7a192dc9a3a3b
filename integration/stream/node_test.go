package streamit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/integration/internal/servers"
)

// installHint is what a local run without the Node servers is told to do.
const installHint = "install Node.js 20 or newer, then run: cd integration/node && npm ci"

// requireComponent skips the test with why and the install command, or fails
// it when SLUICE_INTEGRATION=required (as .ci/run sets it): CI never skips.
func requireComponent(t *testing.T, why string) {
	t.Helper()
	msg := why + ": " + installHint
	if servers.Required() {
		t.Fatal(msg + " (SLUICE_INTEGRATION=required)")
	}
	t.Skip(msg)
}

var (
	nodeOnce sync.Once
	nodeBin  string // path of node, "" if missing
	nodeDir  string // absolute path of integration/node
	nodeErr  string // why the Node servers cannot run, "" if they can
)

// pinned are the packages the servers need, at the versions package.json pins.
var pinned = []string{"ws", "better-sse"}

// findNode locates node and checks that `npm ci` has installed the pinned
// packages in integration/node.
func findNode(t *testing.T) (bin, dir string) {
	t.Helper()
	nodeOnce.Do(func() {
		d, err := filepath.Abs(filepath.Join("..", "node"))
		if err != nil {
			nodeErr = err.Error()
			return
		}
		nodeDir = d
		name := "node"
		if env := os.Getenv("SLUICE_NODE"); env != "" {
			name = env // another node binary
		}
		p, err := exec.LookPath(name)
		if err != nil {
			nodeErr = "no node binary: " + err.Error()
			return
		}
		nodeBin = p
		out, err := exec.Command(p, "--version").Output()
		v := strings.TrimSpace(string(out))
		major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
		if n, convErr := strconv.Atoi(major); err != nil || convErr != nil || n < 20 {
			nodeErr = fmt.Sprintf("%s --version says %q (%v): better-sse needs Node.js 20 or newer", p, v, err)
			return
		}
		var pkg struct{ Dependencies map[string]string }
		b, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err == nil {
			err = json.Unmarshal(b, &pkg)
		}
		if err != nil {
			nodeErr = "cannot read integration/node/package.json: " + err.Error()
			return
		}
		for _, name := range pinned {
			var got struct{ Version string }
			b, err := os.ReadFile(filepath.Join(d, "node_modules", name, "package.json"))
			if err != nil {
				nodeErr = "integration/node/node_modules has no " + name
				return
			}
			if err := json.Unmarshal(b, &got); err != nil || got.Version != pkg.Dependencies[name] {
				nodeErr = fmt.Sprintf("integration/node/node_modules has %s %q, package.json pins %q", name, got.Version, pkg.Dependencies[name])
				return
			}
		}
	})
	if nodeErr != "" {
		requireComponent(t, nodeErr)
	}
	return nodeBin, nodeDir
}

// control talks to the servers' control endpoints. No keep-alive: nothing
// of it outlives a request, for goleak.
var control = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// nodeServer is one of the integration/node scripts running as a child
// process in its own process group, listening on 127.0.0.1.
type nodeServer struct {
	t    *testing.T
	Port int
	proc *servers.Process
	out  *outputBuffer
}

// startNode starts script (a file in integration/node) with config as its
// --config JSON, on port (0: any free port), waits until it listens and
// arranges for it to be killed when the test ends (and, on Linux, when
// the test binary dies: see servers.Process).
func startNode(t *testing.T, script string, port int, config any) *nodeServer {
	t.Helper()
	bin, dir := findNode(t)
	cfg, err := json.Marshal(config)
	require.NoError(t, err)
	cmd := exec.Command(bin, filepath.Join(dir, script), "--port", strconv.Itoa(port), "--config", string(cfg))
	cmd.Dir = dir
	out := &outputBuffer{ready: make(chan string, 1)}
	cmd.Stdout = out
	cmd.Stderr = out
	p, err := servers.StartProcess(cmd)
	require.NoError(t, err, "starting node %s", script)
	s := &nodeServer{t: t, proc: p, out: out}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("output of node %s:\n%s", script, out.String())
		}
	})
	select {
	case line := <-out.ready:
		var r struct{ Port int }
		require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "READY ")), &r), "ready line %q", line)
		s.Port = r.Port
	case <-p.Done():
		_, err := p.Exited()
		t.Fatalf("node %s exited before printing READY (%v); output:\n%s", script, err, out.String())
	case <-time.After(15 * time.Second):
		s.Kill()
		t.Fatalf("node %s did not print READY within 15s; output:\n%s", script, out.String())
	}
	return s
}

// Kill kills the server at once and waits for it to exit (servers'
// Process.Stop: its process group is killed if it does not). It is
// idempotent.
func (s *nodeServer) Kill() {
	if err := s.proc.Stop(syscall.SIGKILL); err != nil {
		s.t.Errorf("killing node: %v", err)
	}
}

// URL returns the server's address with path, with scheme http or ws.
func (s *nodeServer) URL(scheme, path string) string {
	return scheme + "://127.0.0.1:" + strconv.Itoa(s.Port) + path
}

// Stats decodes GET /stats into v.
func (s *nodeServer) Stats(v any) {
	s.t.Helper()
	resp, err := control.Get(s.URL("http", "/stats"))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	require.Equal(s.t, http.StatusOK, resp.StatusCode)
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(v))
}

// Post sends body to path and returns the answer's body.
func (s *nodeServer) Post(path, body string) string {
	s.t.Helper()
	resp, err := control.Post(s.URL("http", path), "text/plain", strings.NewReader(body))
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "POST %s: %s", path, b)
	return string(b)
}

// outputBuffer keeps a child's output and hands over its first line
// starting with READY.
type outputBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  bool
	ready chan string
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.seen {
		all := b.buf.Bytes()
		if i := bytes.Index(all, []byte("READY ")); i >= 0 && (i == 0 || all[i-1] == '\n') {
			if j := bytes.IndexByte(all[i:], '\n'); j >= 0 {
				b.seen = true
				b.ready <- string(all[i : i+j])
			}
		}
	}
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls cond every 10ms until it holds, and fails the test with
// what if it does not within d.
func eventually(t *testing.T, d time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+what, append([]any{d}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running is a stream.Client's Run in progress on its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// start calls run(ctx) on a new goroutine, with ctx derived from parent.
// When the test ends, ctx is cancelled and Run must return within 10s.
func start(t *testing.T, parent context.Context, run func(ctx context.Context) error) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return within 10s of its context ending")
		}
	})
	return r
}

// wait returns Run's error once it returned, failing the test if that takes
// longer than d.
func (r *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

// bounded returns a context for a Run that is expected to end by itself,
// so that a defect fails the test instead of hanging it.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

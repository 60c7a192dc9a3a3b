package servers

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NATSVersion is the pinned nats-server, the version in the integration
// module's go.mod (a tool directive).
const NATSVersion = "v2.15.2"

// NATSInstall is the command that builds the pinned nats-server and tells
// the tests where it is. Without SLUICE_NATS_SERVER the tests build it
// themselves (go build, into the user cache directory).
const NATSInstall = "cd integration && go build -o /tmp/nats-server github.com/nats-io/nats-server/v2 && export SLUICE_NATS_SERVER=/tmp/nats-server"

var (
	natsBuildOnce sync.Once
	natsBuilt     string
	natsBuildErr  string
)

// natsServer returns the nats-server binary: $SLUICE_NATS_SERVER if set,
// else one built from the integration module's pinned version into the user
// cache directory, or "" and why not.
func natsServer() (string, string) {
	if p := os.Getenv("SLUICE_NATS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "SLUICE_NATS_SERVER: " + err.Error()
		}
		return p, ""
	}
	natsBuildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			natsBuildErr = "go not on PATH"
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		out := filepath.Join(cache, "sluice-integration", "nats-server-"+NATSVersion)
		// The tests run in a package directory of the integration module,
		// so go build resolves the module's pinned version.
		cmd := exec.Command(goBin, "build", "-o", out, "github.com/nats-io/nats-server/v2")
		if b, err := cmd.CombinedOutput(); err != nil {
			natsBuildErr = "building nats-server: " + err.Error() + ": " + strings.TrimSpace(string(b))
			return
		}
		natsBuilt = out
	})
	return natsBuilt, natsBuildErr
}

// NATS is a running nats-server process with JetStream (file storage),
// started by StartNATS. Kill and Restart crash it and bring it back on the
// same port and store.
type NATS struct {
	URL  string // nats://127.0.0.1:port
	Port int
	Dir  string // the JetStream store directory (-sd)

	t    testing.TB
	bin  string
	log  string // the log file, appended to by every run
	mu   sync.Mutex
	proc *Process
	runs int
}

// StartNATS starts the pinned nats-server with JetStream on a free port of
// 127.0.0.1, storing its streams in dir (-sd), and stops it (SIGTERM) when
// t ends. Without the binary it calls Missing.
func StartNATS(t testing.TB, dir string) *NATS {
	t.Helper()
	bin, why := natsServer()
	if bin == "" {
		Missing(t, "nats-server "+NATSVersion+" ("+why+")", NATSInstall)
	}
	n := &NATS{Dir: dir, t: t, bin: bin, log: filepath.Join(t.TempDir(), "nats-server.log")}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(n.log); err == nil {
				t.Logf("nats-server log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p != nil {
			if err := p.Stop(syscall.SIGTERM); err != nil {
				t.Errorf("stopping nats-server: %v", err)
			}
		}
	})
	var lastErr error
	for try := 0; try < 3; try++ {
		n.Port = FreePorts(t, 1)[0]
		if lastErr = n.start(); lastErr == nil {
			n.URL = "nats://" + Addr(n.Port)
			return n
		}
	}
	t.Fatalf("starting nats-server: %v", lastErr)
	return nil
}

// start runs the server on n.Port and waits until it accepts connections
// (nats-server enables JetStream, recovering the store, before it listens).
func (n *NATS) start() error {
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	n.runs++
	_, _ = logf.WriteString("==== run " + strconv.Itoa(n.runs) + "\n")
	cmd := exec.Command(n.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-js", "-sd", n.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := StartProcess(cmd)
	if err != nil {
		return err
	}
	if err := waitListening(p, 15*time.Second, Addr(n.Port)); err != nil {
		_ = p.Stop(syscall.SIGKILL)
		return err
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	return nil
}

// Kill SIGKILLs the server (no shutdown, no flush) and waits for it to exit.
func (n *NATS) Kill() {
	n.t.Helper()
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		n.t.Fatal("nats-server: Kill while not running")
	}
	if err := p.Stop(syscall.SIGKILL); err != nil {
		n.t.Fatalf("killing nats-server: %v", err)
	}
}

// Restart starts the server again on the same port and store, after Kill.
// The port was the server's until Kill, so another process taking it in
// between is unlikely; Restart retries for a few seconds before failing.
func (n *NATS) Restart() {
	n.t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err = n.start(); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatalf("restarting nats-server on port %d: %v", n.Port, err)
	}
}

// tail returns the last limit bytes of b, from a line start.
func tail(b []byte, limit int) []byte {
	if len(b) <= limit {
		return b
	}
	b = b[len(b)-limit:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b
}

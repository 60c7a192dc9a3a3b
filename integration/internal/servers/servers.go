// Package servers starts the real third-party servers of the integration
// tests (nginx, toxiproxy and nats-server) as child processes on 127.0.0.1,
// and stops them when the test ends.
//
// A component that is not installed makes the test skip with a message
// naming its install command, unless the environment variable
// SLUICE_INTEGRATION is "required" (.ci/run sets it): then the test fails,
// so that CI never skips silently.
package servers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Required reports whether missing components fail the tests instead of
// skipping them (SLUICE_INTEGRATION=required).
func Required() bool { return os.Getenv("SLUICE_INTEGRATION") == "required" }

// Missing skips t (or fails it, when Required) because a component is not
// available, naming the command that installs it.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s not found (SLUICE_INTEGRATION=required): %s", what, install)
	}
	t.Skipf("%s not found: %s", what, install)
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1. A port is free
// when returned; a server started on it may still lose a race for it, which
// the starters below detect (they retry with new ports a bounded number of
// times).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Addr returns "127.0.0.1:port".
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Process is a child process in its own process group (on Linux, killed
// by the kernel if the test binary dies first).
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// StartProcess starts cmd as a Process.
func StartProcess(cmd *exec.Cmd) (*Process, error) {
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has exited, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends sig and waits up to 10 s for the process to exit, then kills
// its process group (the one it was started in, holding only it and its
// children) and waits up to 5 s more.
func (p *Process) Stop(sig syscall.Signal) error {
	if done, _ := p.Exited(); done {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return errors.New("did not exit on " + sig.String() + "; killed")
	case <-time.After(5 * time.Second):
		return fmt.Errorf("pid %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// waitListening waits up to timeout for every address to accept a TCP
// connection, polling every 20 ms; it gives up early if p exits.
func waitListening(p *Process, timeout time.Duration, addrs ...string) error {
	deadline := time.Now().Add(timeout)
	for _, addr := range addrs {
		for {
			if done, err := p.Exited(); done {
				return fmt.Errorf("exited before listening on %s: %v", addr, err)
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not listening on %s after %v: %v", addr, timeout, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The Streams benchmarks talk to a server in a child process (this test
// binary started again with streamServerEnv set), so that the memory, the
// goroutines, the CPU time and the file descriptors counted in the benchmark
// process are the clients' alone, and each process needs one descriptor per
// connection instead of two.
const streamServerEnv = "SLUICE_BENCH_STREAM_SERVER"

// raiseNoFile raises RLIMIT_NOFILE to its hard limit and returns the new
// soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// streamServer is the child's state: one data listener that serves /ws
// (coder/websocket) and /sse (text/event-stream), and a control listener
// that survives the data listener's restarts.
type streamServer struct {
	addr string

	mu    sync.Mutex
	srv   *http.Server
	epoch context.Context // ends when the data listener is dropped
	drop  context.CancelFunc
	next  chan struct{} // closed to start a broadcast
	m     int           // messages per client in the broadcast
	size  int

	ws, sse atomic.Int64 // connections up
}

func streamServerMain() {
	if _, err := raiseNoFile(); err != nil {
		fmt.Fprintln(os.Stderr, "stream server: rlimit:", err)
		os.Exit(2)
	}
	s := &streamServer{next: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stream server:", err)
		os.Exit(2)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stream server:", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d %d\n", s.ws.Load(), s.sse.Load())
	})
	mux.HandleFunc("/broadcast", func(w http.ResponseWriter, r *http.Request) {
		m, _ := strconv.Atoi(r.URL.Query().Get("m"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		s.mu.Lock()
		s.m, s.size = m, size
		close(s.next)
		s.next = make(chan struct{})
		s.mu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	// drop closes every connection and the listener at once, then listens
	// again on the same address: a server restart.
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		old, cancel := s.srv, s.drop
		s.mu.Unlock()
		cancel()        // WebSocket handlers close their (hijacked) connections
		_ = old.Close() // the listener and every SSE connection
		var ln net.Listener
		var err error
		for range 100 {
			if ln, err = net.Listen("tcp", s.addr); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.serve(ln)
		fmt.Fprintln(w, "ok")
	})
	fmt.Printf("data=%s ctl=%s\n", s.addr, ctl.Addr())
	go func() { // exit with the parent
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}()
	_ = http.Serve(ctl, mux)
}

func (s *streamServer) serve(ln net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { s.serveWS(ctx, w, r) })
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) { s.serveSSE(ctx, w, r) })
	srv := &http.Server{Handler: mux}
	s.mu.Lock()
	s.srv, s.epoch, s.drop = srv, ctx, cancel
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// broadcasts calls send(m, size) for every broadcast started while the
// connection is up, until epoch or done ends.
func (s *streamServer) broadcasts(epoch context.Context, done <-chan struct{}, send func(m, size int) error) {
	for {
		s.mu.Lock()
		next := s.next
		s.mu.Unlock()
		select {
		case <-epoch.Done():
			return
		case <-done:
			return
		case <-next:
		}
		s.mu.Lock()
		m, size := s.m, s.size
		s.mu.Unlock()
		if err := send(m, size); err != nil {
			return
		}
	}
}

func (s *streamServer) serveWS(epoch context.Context, w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	s.ws.Add(1)
	defer s.ws.Add(-1)
	readCtx := ws.CloseRead(context.Background()) // answers pings and the close handshake
	s.broadcasts(epoch, readCtx.Done(), func(m, size int) error {
		payload := make([]byte, size)
		for range m {
			if err := ws.Write(context.Background(), websocket.MessageBinary, payload); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *streamServer) serveSSE(epoch context.Context, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	s.sse.Add(1)
	defer s.sse.Add(-1)
	s.broadcasts(epoch, r.Context().Done(), func(m, size int) error {
		line := "data: " + strings.Repeat("x", size) + "\n\n"
		for range m {
			if _, err := w.Write([]byte(line)); err != nil {
				return err
			}
		}
		return rc.Flush()
	})
}

// streamServerProc is the parent's handle on a child server.
type streamServerProc struct {
	cmd       *exec.Cmd
	data, ctl string // host:port
}

func startStreamServer(tb testing.TB) *streamServerProc {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), streamServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &streamServerProc{cmd: cmd}
	tb.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("stream server: %v", err)
	}
	if _, err := fmt.Sscanf(line, "data=%s ctl=%s", &p.data, &p.ctl); err != nil {
		tb.Fatalf("stream server said %q: %v", line, err)
	}
	return p
}

func (p *streamServerProc) call(tb testing.TB, path string) string {
	resp, err := http.Get("http://" + p.ctl + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&sb)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s: %s", path, sb.String())
	}
	return sb.String()
}

// count returns the WebSocket and SSE connections the server holds.
func (p *streamServerProc) count(tb testing.TB) (ws, sse int) {
	if _, err := fmt.Sscanf(p.call(tb, "/count"), "%d %d", &ws, &sse); err != nil {
		tb.Fatal(err)
	}
	return ws, sse
}

package servers

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxInstall is the command that installs nginx on Debian.
const NginxInstall = "apt-get install nginx-light"

// Nginx is a running nginx, started by StartNginx.
type Nginx struct {
	// Dir is nginx's prefix directory: nginx.conf, logs, temp files, and
	// the document root Root.
	Dir string
	// Root is the document root of every server block (Dir/www), unless a
	// block sets its own.
	Root string
	// Ports are the ports of the hosts, as passed to the config function.
	Ports []int
	proc  *Process
}

// NginxConfig describes the nginx to start.
type NginxConfig struct {
	// Hosts is the number of ports to allocate: one per server block.
	Hosts int
	// Servers returns the server blocks (and any other directives of the
	// http block) for the allocated ports. Each block listens on
	// 127.0.0.1:ports[i] (write "listen " + servers.Addr(ports[i]) + ";").
	// The access log (format "sluice", see LogEntry) and error log are set
	// for the whole http block, root is Root and default_type text/plain.
	Servers func(ports []int) string
	// Files are written under Root before nginx starts, by path relative to
	// Root (directories are created).
	Files map[string]string
}

// nginxPath returns the nginx binary, or "" if it is not installed. Debian
// puts it in /usr/sbin, which is not on every user's PATH.
func nginxPath() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}

// StartNginx starts nginx with cfg in a directory of t.TempDir, waits until
// every host accepts connections, and stops nginx when t ends. Without
// nginx it calls Missing.
func StartNginx(t testing.TB, cfg NginxConfig) *Nginx {
	t.Helper()
	bin := nginxPath()
	if bin == "" {
		Missing(t, "nginx", NginxInstall)
	}
	dir := t.TempDir()
	n := &Nginx{Dir: dir, Root: filepath.Join(dir, "www")}
	for path, body := range cfg.Files {
		p := filepath.Join(n.Root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{n.Root, filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	for try := 0; try < 3; try++ { // a port taken between FreePorts and nginx's bind: try others
		n.Ports = FreePorts(t, cfg.Hosts)
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(n.config(cfg.Servers(n.Ports))), 0o644); err != nil {
			t.Fatal(err)
		}
		lastErr = n.start(bin)
		if lastErr == nil {
			t.Cleanup(func() {
				if err := n.proc.Stop(syscall.SIGTERM); err != nil {
					t.Errorf("stopping nginx: %v", err)
				}
			})
			return n
		}
	}
	t.Fatalf("starting nginx: %v\nerror log:\n%s", lastErr, n.ErrorLog())
	return nil
}

func (n *Nginx) start(bin string) error {
	_ = os.Remove(n.logPath("error.log"))
	cmd := exec.Command(bin, "-p", n.Dir, "-c", "nginx.conf", "-e", n.logPath("error.log"), "-g", "daemon off;")
	p, err := StartProcess(cmd)
	if err != nil {
		return err
	}
	addrs := make([]string, len(n.Ports))
	for i, port := range n.Ports {
		addrs[i] = Addr(port)
	}
	if err := waitListening(p, 10*time.Second, addrs...); err != nil {
		_ = p.Stop(syscall.SIGTERM)
		return err
	}
	n.proc = p
	return nil
}

func (n *Nginx) logPath(name string) string { return filepath.Join(n.Dir, name) }

func (n *Nginx) config(servers string) string {
	var b strings.Builder
	if os.Geteuid() == 0 {
		// As root, nginx's workers would run as nobody, who cannot read
		// t.TempDir (mode 0700).
		b.WriteString("user root;\n")
	}
	// One process, no master and workers: the kernel kills it if the test
	// binary dies (see sysProcAttr), whereas workers would outlive a
	// killed master.
	fmt.Fprintf(&b, `master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
	default_type text/plain;
	log_format sluice '$msec $connection $connection_requests $server_port $status $server_protocol $request_method $body_bytes_sent $request_time "$request_uri"';
	access_log %[1]s/access.log sluice;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	uwsgi_temp_path %[1]s/tmp/uwsgi;
	scgi_temp_path %[1]s/tmp/scgi;
	root %[2]s;
	keepalive_timeout 75s;
	server_tokens off;
%[3]s
}
`, n.Dir, n.Root, servers)
	return b.String()
}

// URL returns "http://127.0.0.1:port" of host i, followed by path.
func (n *Nginx) URL(i int, path string) string {
	return "http://" + Addr(n.Ports[i]) + path
}

// ErrorLog returns nginx's error log.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(n.logPath("error.log"))
	return string(b)
}

// LogEntry is one line of the access log.
type LogEntry struct {
	Time       time.Time // when the request was logged ($msec: when it ended)
	Connection int64     // nginx's connection serial number
	ConnReqs   int       // requests on that connection so far, this one included
	Port       int       // the host's port
	Status     int
	Proto      string // HTTP/1.1, HTTP/2.0
	Method     string
	BodyBytes  int64         // body bytes sent ($body_bytes_sent)
	Took       time.Duration // $request_time: from the first byte read to the log write
	URI        string        // the request URI as sent, with its query
}

// Start returns when nginx began reading the request (Time - Took).
func (e LogEntry) Start() time.Time { return e.Time.Add(-e.Took) }

// AccessLog returns the requests nginx has logged so far, in the order they
// ended. nginx writes each line when its request ends, unbuffered.
func (n *Nginx) AccessLog(t testing.TB) []LogEntry {
	t.Helper()
	f, err := os.Open(n.logPath("access.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []LogEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) != 10 {
			t.Fatalf("access log line %q: want 10 fields", line)
		}
		var e LogEntry
		ms, err1 := strconv.ParseFloat(fields[0], 64)
		conn, err2 := strconv.ParseInt(fields[1], 10, 64)
		reqs, err3 := strconv.Atoi(fields[2])
		port, err4 := strconv.Atoi(fields[3])
		status, err5 := strconv.Atoi(fields[4])
		bytes, err6 := strconv.ParseInt(fields[7], 10, 64)
		took, err7 := strconv.ParseFloat(fields[8], 64)
		for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
			if err != nil {
				t.Fatalf("access log line %q: %v", line, err)
			}
		}
		sec := int64(ms)
		e.Time = time.Unix(sec, int64((ms-float64(sec))*1e9)).Round(time.Millisecond)
		e.Connection, e.ConnReqs, e.Port, e.Status = conn, reqs, port, status
		e.Proto, e.Method, e.URI = fields[5], fields[6], strings.Trim(fields[9], `"`)
		e.BodyBytes, e.Took = bytes, time.Duration(took*float64(time.Second)).Round(time.Millisecond)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Requests returns the access log entries of host i whose URI starts with
// prefix.
func (n *Nginx) Requests(t testing.TB, i int, prefix string) []LogEntry {
	t.Helper()
	var out []LogEntry
	for _, e := range n.AccessLog(t) {
		if e.Port == n.Ports[i] && strings.HasPrefix(e.URI, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// AccessLogUntil polls the access log every 10 ms until done returns true
// for it, for up to 10 s, and returns it; then it fails t. nginx logs a
// request after sending its response, so a client can see the response
// before its line is written.
func (n *Nginx) AccessLogUntil(t testing.TB, done func([]LogEntry) bool) []LogEntry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := n.AccessLog(t)
		if done(log) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log not complete after 10s; it has %d lines", len(log))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// AccessLogN waits for the access log to hold at least count lines (see
// AccessLogUntil) and returns it.
func (n *Nginx) AccessLogN(t testing.TB, count int) []LogEntry {
	t.Helper()
	return n.AccessLogUntil(t, func(l []LogEntry) bool { return len(l) >= count })
}

// Mark sends a GET for path (which should be unique, such as
// "/mark-after-cancel") to host i directly and waits until nginx has logged
// it, so that the access log then holds every request that nginx finished
// before it. It returns the log without the mark.
func (n *Nginx) Mark(t testing.TB, i int, path string) []LogEntry {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get(n.URL(i, path))
	if err != nil {
		t.Fatalf("mark %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	log := n.AccessLogUntil(t, func(l []LogEntry) bool {
		return slices.ContainsFunc(l, func(e LogEntry) bool { return e.URI == path })
	})
	return slices.DeleteFunc(log, func(e LogEntry) bool { return e.URI == path })
}

package servers

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// ToxiproxyVersion is the pinned toxiproxy, the version in the integration
// module's go.mod (a tool directive).
const ToxiproxyVersion = "v2.12.0"

// ToxiproxyInstall is the command that builds the pinned toxiproxy server
// and tells the tests where it is. Without SLUICE_TOXIPROXY_SERVER the
// tests build it themselves (go build, into the user cache directory).
const ToxiproxyInstall = "cd integration && go build -o /tmp/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server && export SLUICE_TOXIPROXY_SERVER=/tmp/toxiproxy-server"

var (
	buildOnce sync.Once
	builtPath string
	buildErr  string
)

// toxiproxyServer returns the toxiproxy-server binary: $SLUICE_TOXIPROXY_SERVER
// if set, else one built from the integration module's pinned version into
// the user cache directory (go build's cache makes this fast after the first
// time), or "" and why not.
func toxiproxyServer() (string, string) {
	if p := os.Getenv("SLUICE_TOXIPROXY_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "SLUICE_TOXIPROXY_SERVER: " + err.Error()
		}
		return p, ""
	}
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = "go not on PATH"
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		out := filepath.Join(cache, "sluice-integration", "toxiproxy-server-"+ToxiproxyVersion)
		// The tests run in a package directory of the integration module,
		// so go build resolves the module's pinned version.
		cmd := exec.Command(goBin, "build", "-o", out, "github.com/Shopify/toxiproxy/v2/cmd/server")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = "building toxiproxy-server: " + err.Error() + ": " + strings.TrimSpace(string(b))
			return
		}
		builtPath = out
	})
	return builtPath, buildErr
}

// Toxiproxy is a running toxiproxy server, started by StartToxiproxy.
type Toxiproxy struct {
	Client *toxiproxy.Client
	Addr   string // its API's address
	proc   *Process
}

// StartToxiproxy starts the pinned toxiproxy server on a free port of
// 127.0.0.1 and stops it when t ends.
func StartToxiproxy(t testing.TB) *Toxiproxy {
	t.Helper()
	bin, why := toxiproxyServer()
	if bin == "" {
		Missing(t, "toxiproxy-server "+ToxiproxyVersion+" ("+why+")", ToxiproxyInstall)
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		port := FreePorts(t, 1)[0]
		addr := Addr(port)
		cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", strings.TrimPrefix(addr, "127.0.0.1:"))
		logf, err := os.Create(filepath.Join(t.TempDir(), "toxiproxy.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		p, err := StartProcess(cmd)
		if err != nil {
			_ = logf.Close()
			t.Fatalf("starting toxiproxy-server: %v", err)
		}
		if lastErr = waitListening(p, 10*time.Second, addr); lastErr != nil {
			_ = p.Stop(syscall.SIGTERM)
			_ = logf.Close()
			continue
		}
		tp := &Toxiproxy{Client: toxiproxy.NewClient(addr), Addr: addr, proc: p}
		t.Cleanup(func() {
			if err := p.Stop(syscall.SIGTERM); err != nil {
				t.Errorf("stopping toxiproxy-server: %v", err)
			}
			_ = logf.Close()
			// The toxiproxy client uses http.DefaultTransport.
			http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		})
		return tp
	}
	t.Fatalf("starting toxiproxy-server: %v", lastErr)
	return nil
}

// Proxy creates a proxy named name from a free port of 127.0.0.1 to
// upstream, and returns it with its listen address.
func (tp *Toxiproxy) Proxy(t testing.TB, name, upstream string) (*toxiproxy.Proxy, string) {
	t.Helper()
	var lastErr error
	for try := 0; try < 3; try++ {
		listen := Addr(FreePorts(t, 1)[0])
		p, err := tp.Client.CreateProxy(name, listen, upstream)
		if err == nil {
			return p, listen
		}
		lastErr = err
	}
	t.Fatalf("creating proxy %s to %s: %v", name, upstream, lastErr)
	return nil, ""
}

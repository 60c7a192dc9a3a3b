package fetchit

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
)

// newFetcher returns a Fetcher for o whose idle connections are closed
// when t ends.
func newFetcher(t *testing.T, o fetch.Options) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(o)
	require.NoError(t, err)
	t.Cleanup(f.CloseIdleConnections)
	return f
}

// nginxHosts starts nginx with one server block per body in blocks, each
// listening on its own port (the block's text goes inside server { }, after
// the listen directive), with files under the shared document root.
func nginxHosts(t *testing.T, files map[string]string, blocks ...string) *servers.Nginx {
	t.Helper()
	return nginxHTTP(t, files, "", blocks...)
}

// nginxHTTP is nginxHosts with directives for the http block (such as
// limit_req_zone) before the server blocks.
func nginxHTTP(t *testing.T, files map[string]string, http string, blocks ...string) *servers.Nginx {
	t.Helper()
	return servers.StartNginx(t, servers.NginxConfig{
		Hosts: len(blocks),
		Files: files,
		Servers: func(ports []int) string {
			var b strings.Builder
			b.WriteString(http + "\n")
			for i, block := range blocks {
				b.WriteString("server {\n\tlisten " + servers.Addr(ports[i]) + ";\n" + block + "\n}\n")
			}
			return b.String()
		},
	})
}

// uris returns the URIs of entries, in log order.
func uris(entries []servers.LogEntry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.URI
	}
	return out
}

// statuses counts the entries by status.
func statuses(entries []servers.LogEntry) map[int]int {
	out := make(map[int]int)
	for _, e := range entries {
		out[e.Status]++
	}
	return out
}

// noisy returns n bytes of text that gzip compresses only about 2:1: hex
// digits of a pseudo-random sequence (fixed seed).
func noisy(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[rng.IntN(16)]
	}
	return string(b)
}

// slowPages returns a location block in which nginx proxies /p/ to an
// application server (in this process) that takes d to answer each
// request with 16 KiB, so that nginx holds each request for d.
func slowPages(t *testing.T, d time.Duration) string {
	t.Helper()
	body := []byte(text(16 << 10))
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(backend.Close)
	return "location /p/ { proxy_pass " + backend.URL + "; }"
}

// pages returns the entries of the host on port under /p/.
func pages(log []servers.LogEntry, port int) []servers.LogEntry {
	var out []servers.LogEntry
	for _, e := range log {
		if e.Port == port && strings.HasPrefix(e.URI, "/p/") {
			out = append(out, e)
		}
	}
	return out
}

package fetchit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/integration/internal/servers"
	"github.com/sluicego/sluice/retry"
)

// text returns n bytes of compressible text.
func text(n int) string {
	line := "sluice fetches this line from nginx, again and again.\n"
	return strings.Repeat(line, n/len(line)+1)[:n]
}

// A gzip-encoded body is decompressed, and MaxBodyBytes applies to what the
// caller gets, not to the compressed bytes on the wire: a small compressed
// body that inflates beyond the limit is ErrBodyTooLarge (a gzip bomb cannot
// get through).
func TestNginxGzipBodyIsDecompressedAndMaxBodyBytesAppliesToIt(t *testing.T) {
	t.Parallel()
	page := text(256 << 10)
	ng := nginxHosts(t, map[string]string{"page.txt": page},
		"gzip on; gzip_types text/plain; gzip_min_length 0;")

	f := newFetcher(t, fetch.Options{Retry: retry.NoRetry()})
	r := f.Get(context.Background(), ng.URL(0, "/page.txt"))
	require.NoError(t, r.Err)
	assert.Equal(t, page, string(r.Body), "the body is decompressed")

	small := newFetcher(t, fetch.Options{Retry: retry.NoRetry(), MaxBodyBytes: 64 << 10})
	r = small.Get(context.Background(), ng.URL(0, "/page.txt"))
	require.ErrorIs(t, r.Err, fetch.ErrBodyTooLarge)
	assert.Equal(t, fetch.OutcomeTooLarge, r.Outcome())
	assert.Nil(t, r.Body)

	log := ng.AccessLogN(t, 2)
	require.Len(t, log, 2)
	for _, e := range log {
		assert.Less(t, e.BodyBytes, int64(64<<10), "nginx sent the body compressed, under MaxBodyBytes on the wire")
	}
}

// A body longer than MaxBodyBytes is ErrBodyTooLarge, with no body, and is
// not retried.
func TestNginxBodyOverMaxBodyBytesIsTooLargeNotTruncated(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"big.bin": text(100 << 10)}, "")
	f := newFetcher(t, fetch.Options{MaxBodyBytes: 10 << 10})
	r := f.Get(context.Background(), ng.URL(0, "/big.bin"))
	require.ErrorIs(t, r.Err, fetch.ErrBodyTooLarge)
	assert.Equal(t, fetch.OutcomeTooLarge, r.Outcome())
	assert.Nil(t, r.Body)
	assert.Equal(t, 1, r.Attempts)
	assert.Len(t, ng.Mark(t, 0, "/mark"), 1)
}

// nginx's limit_req rejects requests over the rate with limit_req_status
// and a Retry-After header; the Fetcher retries them no earlier than
// Retry-After says, and every URL ends OK.
func TestNginxLimitReqRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	for _, status := range []int{503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			ng := nginxHTTP(t, map[string]string{"p": "ok"},
				"limit_req_zone $server_port zone=one:1m rate=2r/s;",
				fmt.Sprintf("limit_req zone=one; limit_req_status %d; add_header Retry-After 1 always;", status))
			f := newFetcher(t, fetch.Options{Retry: &retry.Policy{Schedule: retry.Schedule{Initial: 10 * time.Millisecond, MaxHint: 5 * time.Second}, MaxAttempts: 10}})
			urls := make([]string, 4)
			for i := range urls {
				urls[i] = ng.URL(0, fmt.Sprintf("/p?i=%d", i))
			}
			for _, r := range f.All(context.Background(), urls) {
				require.NoError(t, r.Err, r.URL)
			}
			log := ng.AccessLogUntil(t, func(l []servers.LogEntry) bool {
				return len(statuses(l)) > 0 && statuses(l)[200] >= len(urls)
			})
			assert.Positive(t, statuses(log)[status], "nginx limited some requests")
			for _, u := range urls {
				var mine []servers.LogEntry
				for _, e := range log {
					if strings.HasSuffix(u, e.URI) {
						mine = append(mine, e)
					}
				}
				require.NotEmpty(t, mine)
				for i, e := range mine {
					if i < len(mine)-1 {
						assert.Equal(t, status, e.Status, "%s: only the last request succeeded", e.URI)
						// Retry-After: 1 is a minimum wait from the 429/503's
						// arrival, which came after nginx began it (and the
						// log has millisecond resolution).
						gap := mine[i+1].Start().Sub(e.Start())
						assert.GreaterOrEqual(t, gap, 990*time.Millisecond, "%s retried %v after a Retry-After: 1", e.URI, gap)
					} else {
						assert.Equal(t, 200, e.Status)
					}
				}
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sluice integration"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Over TLS with a certificate the caller's Client trusts, the Fetcher
// speaks HTTP/2 to nginx, and a batch shares one connection.
func TestNginxHTTP2OverTLSWithCallersClient(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	ng := servers.StartNginx(t, servers.NginxConfig{
		Hosts: 1,
		Files: map[string]string{"p": "over h2"},
		Servers: func(ports []int) string {
			return fmt.Sprintf("server {\n\tlisten %s ssl http2;\n\tssl_certificate %s;\n\tssl_certificate_key %s;\n}\n",
				servers.Addr(ports[0]), certFile, keyFile)
		},
	})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	f := newFetcher(t, fetch.Options{Client: &http.Client{Transport: tr}, Retry: retry.NoRetry()})

	base := fmt.Sprintf("https://127.0.0.1:%d", ng.Ports[0])
	urls := make([]string, 20)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/p?i=%d", base, i)
	}
	for _, r := range f.All(context.Background(), urls) {
		require.NoError(t, r.Err)
		assert.Equal(t, "over h2", string(r.Body))
	}
	log := ng.AccessLogN(t, len(urls))
	require.Len(t, log, len(urls))
	conns := map[int64]bool{}
	for _, e := range log {
		assert.Equal(t, "HTTP/2.0", e.Proto)
		conns[e.Connection] = true
	}
	assert.LessOrEqual(t, len(conns), 2, "HTTP/2 multiplexes a batch over one connection (two if the first ones raced)")

	// Without the caller's trust, the certificate is rejected: an error, not a success.
	plain := newFetcher(t, fetch.Options{Retry: retry.NoRetry()})
	r := plain.Get(context.Background(), base+"/p")
	require.Error(t, r.Err)
	var ue x509.UnknownAuthorityError
	assert.ErrorAs(t, r.Err, &ue)
}

// Keep-alive: a batch over one host uses at most PerHost connections, also
// when half of its URLs answer 404 (error bodies are drained, so their
// connections are reused, not closed).
func TestNginxKeepAliveConnectionsAreReusedAcrossErrors(t *testing.T) {
	t.Parallel()
	ng := nginxHosts(t, map[string]string{"p": text(4 << 10)}, "")
	f := newFetcher(t, fetch.Options{PerHost: 4, Concurrency: 16, Retry: retry.NoRetry()})
	urls := make([]string, 200)
	for i := range urls {
		path := "/p"
		if i%2 == 1 {
			path = "/missing"
		}
		urls[i] = ng.URL(0, fmt.Sprintf("%s?i=%d", path, i))
	}
	results := f.All(context.Background(), urls)
	for i, r := range results {
		if i%2 == 1 {
			assert.Equal(t, fetch.OutcomeStatusError, r.Outcome(), r.URL)
			assert.Equal(t, 404, r.Status)
		} else {
			assert.NoError(t, r.Err, r.URL)
			assert.True(t, bytes.Equal([]byte(text(4<<10)), r.Body))
		}
	}
	log := ng.AccessLogN(t, len(urls))
	require.Len(t, log, len(urls))
	var conns []int64
	for _, e := range log {
		if !slices.Contains(conns, e.Connection) {
			conns = append(conns, e.Connection)
		}
	}
	assert.LessOrEqual(t, len(conns), 4, "200 requests with PerHost 4 used %d connections", len(conns))
}

package fetch

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// "no such host" is not transient: it is not retried.
func TestUnknownHostIsNotRetried(t *testing.T) {
	var dials int
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.DNSError{Err: "no such host", Name: "nosuch.invalid", IsNotFound: true}}
	}}
	f := newFetcher(t, Options{Client: &http.Client{Transport: tr}, Retry: fastRetry(3)})
	res := f.Get(context.Background(), "http://nosuch.invalid/")
	var dns *net.DNSError
	require.ErrorAs(t, res.Err, &dns)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, 1, dials)

	// A DNS timeout is transient.
	dials = 0
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return nil, &net.OpError{Op: "dial", Net: network,
			Err: &net.DNSError{Err: "timeout", Name: "slow.invalid", IsTimeout: true}}
	}
	res = f.Get(context.Background(), "http://slow.invalid/")
	require.Error(t, res.Err)
	assert.Equal(t, 3, res.Attempts)
}

// A server that resets the connection (RST via SetLinger(0)) is a
// transient network error: retried, then reported as such.
func TestConnectionResetIsRetriedNetworkError(t *testing.T) {
	addr, accepts := rawServer(t, func(c net.Conn) {
		readRequestHead(c)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	res := f.Get(context.Background(), addr+"/reset")
	require.Error(t, res.Err)
	assert.True(t, isNetworkError(res.Err), "%v", res.Err)
	assert.ErrorIs(t, res.Err, retry.ErrExhausted)
	assert.Equal(t, 3, res.Attempts)
	assert.GreaterOrEqual(t, accepts.Load(), int64(3))
	assert.Equal(t, int64(1), f.Stats().NetworkErrors)
}

func TestConnectionRefusedIsNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	f := newFetcher(t, Options{Retry: fastRetry(2)})
	res := f.Get(context.Background(), "http://"+addr+"/")
	require.Error(t, res.Err)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, int64(1), f.Stats().NetworkErrors)
}

package fetch

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The address classifier, on a table of IPv4 and IPv6 addresses (no
// traffic).
func TestForbiddenAddrClassifiesAddresses(t *testing.T) {
	forbidden := []string{
		"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255",
		"172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"100.127.255.255", "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
		"203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254",
		"::ffff:0:10.0.0.1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "febf::1",
		"fec0::1", "ff02::1", "ff05::2", "2001:db8::1", "100::1", "2001::1", "2001:0:4136:e378::1",
		"64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:c0a8:101::1",
		"3fff::1", "5f00::1",
	}
	public := []string{
		"1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255",
		"172.32.0.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
		"223.255.255.255", "169.253.0.1", "11.0.0.1",
		"::ffff:8.8.8.8", "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450::1",
		"64:ff9b::808:808", "2002:808:808::1", "2400:cb00::1",
	}
	for _, s := range forbidden {
		assert.True(t, forbiddenAddr(netip.MustParseAddr(s)), "%s must be refused", s)
	}
	for _, s := range public {
		assert.False(t, forbiddenAddr(netip.MustParseAddr(s)), "%s is public", s)
	}
	assert.True(t, forbiddenAddr(netip.Addr{}), "the zero Addr is refused")
}

// FuzzForbiddenAddr checks the classifier on any address: it never panics,
// refuses everything netip itself calls loopback, private, link-local,
// multicast or unspecified, answers the same for an IPv4 address and its
// IPv4-mapped IPv6 form, and the same after a round trip through text.
func FuzzForbiddenAddr(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "10.0.0.1", "8.8.8.8", "::ffff:192.168.0.1", "fe80::1", "2001:db8::1", "64:ff9b::a00:1"} {
		b := netip.MustParseAddr(s).As16()
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a netip.Addr
		switch {
		case len(data) >= 16:
			a = netip.AddrFrom16([16]byte(data[:16]))
		case len(data) >= 4:
			a = netip.AddrFrom4([4]byte(data[:4]))
		default:
			return
		}
		got := forbiddenAddr(a)
		if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
			a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
			require.True(t, got, "%s", a)
		}
		if a.Is4() {
			require.Equal(t, got, forbiddenAddr(netip.AddrFrom16(a.As16())), "%s and its IPv4-mapped form", a)
		}
		require.Equal(t, got, forbiddenAddr(netip.MustParseAddr(a.String())), "%s after a round trip through text", a)
	})
}

// guarded returns a Fetcher with DenyPrivateNetworks that lets through only
// the addresses of allowed (all tests' servers are on loopback).
func guarded(t *testing.T, o Options, allowed ...*httptest.Server) *Fetcher {
	t.Helper()
	ok := map[netip.AddrPort]bool{}
	for _, s := range allowed {
		ok[netip.MustParseAddrPort(s.Listener.Addr().String())] = true
	}
	o.DenyPrivateNetworks = true
	o.allowDial = func(ap netip.AddrPort) bool { return ok[ap] }
	return newFetcher(t, o)
}

func assertForbidden(t *testing.T, err error, want string) {
	t.Helper()
	require.ErrorIs(t, err, ErrForbiddenAddress)
	var fe *ForbiddenAddressError
	require.ErrorAs(t, err, &fe)
	if want != "" {
		assert.Equal(t, want, fe.Addr.Addr().String())
	}
	assert.Equal(t, OutcomeForbidden, Result{Err: err}.Outcome())
}

// The guard refuses 127.0.0.1 before connecting (the server accepts no
// connection), reports OutcomeForbidden, and does not retry.
func TestDenyPrivateNetworksRefusesLoopbackIPv4(t *testing.T) {
	srv := newServer(t, okHandler("secret"))
	f := guarded(t, Options{Retry: fastRetry(3)})
	r := f.Get(context.Background(), srv.URL)
	assertForbidden(t, r.Err, "127.0.0.1")
	assert.Equal(t, 1, r.Attempts, "not retried")
	assert.Zero(t, srv.accepts.Load(), "no connection was made")
	st := f.Stats()
	assert.Equal(t, int64(1), st.Forbidden)
	assert.Equal(t, int64(1), st.Attempts)
}

// The guard refuses ::1.
func TestDenyPrivateNetworksRefusesLoopbackIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: okHandler("secret")}}
	srv.Start()
	defer srv.Close()
	f := guarded(t, Options{})
	r := f.Get(context.Background(), srv.URL)
	assertForbidden(t, r.Err, "::1")
}

// A host name that resolves to loopback is refused: the check is on the
// resolved address.
func TestDenyPrivateNetworksRefusesNameResolvingToLoopback(t *testing.T) {
	srv := newServer(t, okHandler("secret"))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	f := guarded(t, Options{})
	r := f.Get(context.Background(), "http://localhost:"+port+"/")
	assertForbidden(t, r.Err, "")
	assert.Zero(t, srv.accepts.Load())
}

// A redirect from an allowed server to a loopback URL is refused at the
// hop, whether the Fetcher or an http.Client built on its Transport
// follows it.
func TestDenyPrivateNetworksRefusesRedirectToLoopback(t *testing.T) {
	inner := newServer(t, okHandler("secret"))
	outer := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/admin", http.StatusFound)
	})
	f := guarded(t, Options{Retry: fastRetry(3)}, outer.Server)

	r := f.Get(context.Background(), outer.URL)
	assertForbidden(t, r.Err, "127.0.0.1")
	assert.Equal(t, int64(1), outer.requests.Load(), "the allowed server was reached, once")

	resp, err := f.Client().Get(outer.URL)
	if resp != nil {
		resp.Body.Close()
	}
	assertForbidden(t, err, "127.0.0.1")
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.Contains(t, ue.URL, inner.URL, "the hop to loopback is the one refused")
	assert.Zero(t, inner.accepts.Load(), "the loopback target never saw a connection")
}

// With robots.txt on, the robots.txt request is refused too; the Result
// says forbidden, not robots.txt unavailable.
func TestDenyPrivateNetworksRefusesRobotsFetch(t *testing.T) {
	srv := newServer(t, okHandler("secret"))
	f := guarded(t, Options{Robots: true})
	r := f.Get(context.Background(), srv.URL)
	assert.Equal(t, OutcomeForbidden, r.Outcome(), "%v", r.Err)
	assert.Zero(t, srv.accepts.Load())
}

// The allowed server works normally through the guard.
func TestDenyPrivateNetworksAllowsAllowedAddress(t *testing.T) {
	srv := newServer(t, okHandler("fine"))
	f := guarded(t, Options{}, srv.Server)
	r := f.Get(context.Background(), srv.URL)
	require.NoError(t, r.Err)
	assert.Equal(t, "fine", string(r.Body))
	assert.Nil(t, f.transport.Proxy, "no proxy: the guard must see the target's address")
}

// New cannot put the guard into a caller's Client, so it says so.
func TestDenyPrivateNetworksWithClientIsInvalid(t *testing.T) {
	_, err := New(Options{DenyPrivateNetworks: true, Client: &http.Client{}})
	require.ErrorIs(t, err, ErrInvalidOptions)
	assert.Contains(t, err.Error(), "DenyPrivateNetworks")

	// DefaultTransport carries the guard, for callers who wrap it.
	tr, err := DefaultTransport(Options{DenyPrivateNetworks: true})
	require.NoError(t, err)
	defer tr.CloseIdleConnections()
	srv := newServer(t, okHandler("secret"))
	f := newFetcher(t, Options{Client: &http.Client{Transport: tr}})
	r := f.Get(context.Background(), srv.URL)
	assertForbidden(t, r.Err, "127.0.0.1")
}

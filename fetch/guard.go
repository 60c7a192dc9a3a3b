package fetch

import (
	"errors"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress is matched (errors.Is) by the error of a connection
// that [Options.DenyPrivateNetworks] refused; errors.As gives the
// [*ForbiddenAddressError] with the address.
var ErrForbiddenAddress = errors.New("fetch: address not allowed")

// ForbiddenAddressError is the error of a connection that
// [Options.DenyPrivateNetworks] refused before it was made: nothing was sent
// to Addr, not even a TCP SYN. It matches [ErrForbiddenAddress]; its Result
// is [OutcomeForbidden], and it is never retried.
type ForbiddenAddressError struct {
	// Addr is the resolved address and port the connection would have
	// gone to.
	Addr netip.AddrPort
}

func (e *ForbiddenAddressError) Error() string {
	return "fetch: refusing to connect to non-public address " + e.Addr.String() + " (DenyPrivateNetworks)"
}

// Is reports whether target is [ErrForbiddenAddress].
func (e *ForbiddenAddressError) Is(target error) bool { return target == ErrForbiddenAddress }

// dialGuard returns the net.Dialer Control function of
// [Options.DenyPrivateNetworks]: it runs for every address the dialer is
// about to connect to, after name resolution, and refuses the non-public
// ones. allow, if not nil, lets a test through to particular addresses.
func dialGuard(allow func(netip.AddrPort) bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			// Not an IP address and port: refuse rather than guess.
			return &ForbiddenAddressError{}
		}
		if allow != nil && allow(ap) {
			return nil
		}
		if forbiddenAddr(ap.Addr()) {
			return &ForbiddenAddressError{Addr: ap}
		}
		return nil
	}
}

// forbiddenV4 and forbiddenV6 are the non-public ranges: IANA's
// special-purpose registries (RFC 6890 and updates) and multicast,
// whether or not globally reachable, except what is publicly routable.
var (
	forbiddenV4 = prefixes(
		"0.0.0.0/8",       // "this network", unspecified
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // shared address space (CGNAT)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local (cloud metadata services)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation (TEST-NET-1)
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation (TEST-NET-2)
		"203.0.113.0/24",  // documentation (TEST-NET-3)
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
	)
	forbiddenV6 = prefixes(
		"::/96",           // unspecified, loopback, IPv4-compatible (deprecated)
		"::ffff:0:0:0/96", // IPv4-translated
		"64:ff9b:1::/48",  // local-use IPv4/IPv6 translation
		"100::/64",        // discard-only
		"2001::/23",       // IETF protocol assignments (Teredo, ORCHID, ...)
		"2001:db8::/32",   // documentation
		"3fff::/20",       // documentation
		"5f00::/16",       // segment routing SIDs
		"fc00::/7",        // unique local
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	)
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: an IPv4 address inside
	sixTo4  = netip.MustParsePrefix("2002::/16")    // 6to4: an IPv4 address in bytes 2-5
	v4InV6s = [...]netip.Prefix{nat64, sixTo4}
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

// forbiddenAddr reports whether a is not a public unicast address:
// loopback, private, link-local, unspecified, multicast, CGNAT,
// documentation and other special-purpose ranges, in IPv4 or IPv6, and
// IPv6 forms that carry such an IPv4 address (IPv4-mapped, NAT64, 6to4).
// An invalid address is forbidden.
func forbiddenAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return inAny(forbiddenV4, a)
	}
	if inAny(forbiddenV6, a) {
		return true
	}
	for _, p := range v4InV6s {
		if p.Contains(a) {
			b := a.As16()
			var v4 [4]byte
			if p == nat64 {
				copy(v4[:], b[12:])
			} else {
				copy(v4[:], b[2:6])
			}
			return inAny(forbiddenV4, netip.AddrFrom4(v4))
		}
	}
	return false
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

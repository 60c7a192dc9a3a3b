package fetch

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// hostKey returns the key of the per-host limits: lower-cased host and
// port, the port defaulting from the scheme.
func hostKey(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port != "" && port[0] != '0' && strings.ToLower(u.Host) == u.Host {
		return u.Host // the common case, without allocating
	}
	if port != "" {
		// ":080" dials port 80: spell it as the one number it is.
		if n, err := strconv.ParseUint(port, 10, 16); err == nil {
			port = strconv.FormatUint(n, 10)
		}
	}
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}

package fetch

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// hostLimits is [Options.HostLimits] parsed: caps by "host:port" key (the
// form hostKey returns) and by bare lower-cased host name (no brackets).
type hostLimits struct {
	byHostPort map[string]int64
	byHost     map[string]int64
}

// parseHostLimits checks and normalises [Options.HostLimits].
func parseHostLimits(m map[string]int) (hostLimits, error) {
	var hl hostLimits
	if len(m) == 0 {
		return hl, nil
	}
	seen := make(map[string]string, len(m)) // normalised key -> key as given
	for raw, n := range m {
		if n < 1 {
			return hostLimits{}, invalid("HostLimits[%q] = %d < 1", raw, n)
		}
		host, port, err := splitHostLimitKey(raw)
		if err != nil {
			return hostLimits{}, invalid("HostLimits key %q: %s", raw, err)
		}
		norm := host
		if port != "" {
			norm = net.JoinHostPort(host, port)
		}
		if prev, dup := seen[norm]; dup {
			return hostLimits{}, invalid("HostLimits keys %q and %q name the same host", prev, raw)
		}
		seen[norm] = raw
		if port != "" {
			if hl.byHostPort == nil {
				hl.byHostPort = make(map[string]int64)
			}
			hl.byHostPort[norm] = int64(n)
		} else {
			if hl.byHost == nil {
				hl.byHost = make(map[string]int64)
			}
			hl.byHost[host] = int64(n)
		}
	}
	return hl, nil
}

type hostLimitError string

func (e hostLimitError) Error() string { return string(e) }

// splitHostLimitKey splits a HostLimits key into its lower-cased host name
// (IPv6 addresses without brackets) and its port, "" if it has none.
func splitHostLimitKey(key string) (host, port string, err error) {
	u, perr := url.Parse("http://" + key)
	switch {
	case perr != nil || u.Host != key || u.User != nil:
		return "", "", hostLimitError("want a host name or address, optionally with :port, and nothing else")
	case u.Hostname() == "":
		return "", "", hostLimitError("empty host")
	case strings.Contains(u.Hostname(), ":") && !strings.HasPrefix(key, "["):
		return "", "", hostLimitError("bracket an IPv6 address, as in [::1]:8080")
	case strings.HasSuffix(key, ":"):
		return "", "", hostLimitError("empty port")
	}
	port = u.Port()
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", "", hostLimitError("port must be in 1-65535, without a leading zero")
		}
	}
	return strings.ToLower(u.Hostname()), port, nil
}

// largest returns the largest cap in hl, or 0 if it is empty.
func (hl hostLimits) largest() int64 {
	var n int64
	for _, v := range hl.byHostPort {
		n = max(n, v)
	}
	for _, v := range hl.byHost {
		n = max(n, v)
	}
	return n
}

// limitOf returns the cap of the host whose hostKey is key: its host:port
// entry, else its host entry, else def.
func (hl hostLimits) limitOf(key string, def int64) int64 {
	if n, ok := hl.byHostPort[key]; ok {
		return n
	}
	if hl.byHost != nil {
		if host, _, err := net.SplitHostPort(key); err == nil {
			if n, ok := hl.byHost[strings.ToLower(host)]; ok {
				return n
			}
		}
	}
	return def
}

// empty reports whether no host has a cap of its own.
func (hl hostLimits) empty() bool { return len(hl.byHostPort) == 0 && len(hl.byHost) == 0 }

package fetch

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/limit"
	"github.com/sluicego/sluice/retry"
)

// Defaults used for zero fields of Options.
const (
	DefaultConcurrency    = 64
	DefaultPerHost        = 8
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 10 << 20
	DefaultUserAgent      = "sluice-fetch/1.0"
	DefaultRobotsTTL      = 24 * time.Hour
	DefaultRobotsErrorTTL = time.Minute
	DefaultRobotsMaxHosts = 1024

	// MaxRobotsTTL is the longest allowed RobotsTTL (RFC 9309 asks crawlers
	// not to use a cached robots.txt for more than 24 hours).
	MaxRobotsTTL = 24 * time.Hour
	// MaxCrawlDelay caps a robots.txt Crawl-delay, so that a host cannot stall
	// a batch indefinitely; the wait also ends when the context does.
	MaxCrawlDelay = time.Minute
)

// Options configures a Fetcher. The zero value is valid: every zero field
// takes the default documented on it.
type Options struct {
	// Concurrency caps the requests in flight across all hosts and all
	// callers of the Fetcher (default 64). It also bounds the goroutines a
	// batch (All, Stream) starts, and how far it reads ahead: see All.
	Concurrency int

	// PerHost caps the requests in flight to one host (default 8). A host is
	// the URL's lower-cased host name and port, the port defaulting from the
	// scheme: two loopback listeners on different ports are different hosts.
	// Hosts listed in HostLimits have their own cap instead.
	PerHost int

	// HostLimits gives particular hosts a cap of their own (>= 1) instead of
	// PerHost; a cap above Concurrency is in effect Concurrency. A key is a
	// host name or IP address, optionally with a port ("api.example.com",
	// "127.0.0.1:8080", "[::1]:8080"); section Hosts of the package doc says
	// how keys match and which [New] rejects. New also rejects a value < 1
	// and HostLimits combined with Adaptive, and copies the map.
	HostLimits map[string]int

	// PerHostRate, if positive, limits the requests started per second to
	// one host, with bursts of PerHostBurst (default 1). Each attempt,
	// retries included, takes one token.
	PerHostRate rate.Limit
	// PerHostBurst is the burst size of PerHostRate (default 1).
	PerHostBurst int
	// MinDelay, if positive, spaces the attempts started to one host at
	// least this far apart. It is a shorthand for PerHostRate =
	// [rate.Every](MinDelay) with a burst of 1; set one or the other, not both.
	MinDelay time.Duration

	// AttemptTimeout is one attempt's time limit (default 30s). It starts
	// when the request is sent, holding its slots, and runs until its body is
	// read; each redirect hop has an AttemptTimeout of its own. Time spent
	// waiting for a concurrency slot, a rate token, robots.txt or a retry
	// backoff does not count. An attempt that runs longer fails with
	// [ErrAttemptTimeout].
	AttemptTimeout time.Duration

	// Retry is the retry policy for transient failures. Nil means
	// [DefaultRetry]: 3 attempts in total, backoff from 200ms to 5s with full
	// jitter, Retry-After waits capped at 30s. Use [retry.NoRetry] to disable
	// retries. New copies the policy. Only requests that are safe to repeat
	// are retried; see [Fetcher.Do]. The policy's Retryable and OnRetry see
	// the attempt errors described on [Result.Err]; they are called from
	// every goroutine using the Fetcher, so must be safe for concurrent use.
	Retry *retry.Policy

	// MaxBodyBytes is the largest body returned in a Result (default 10 MiB).
	// A longer body makes the Result fail with [ErrBodyTooLarge].
	MaxBodyBytes int64

	// UserAgent is sent with every request that does not set its own
	// (default [DefaultUserAgent]). Its first token (up to '/' or a space)
	// is the product token matched against robots.txt groups.
	UserAgent string

	// Client sends the requests. Nil means a client created by New, with a
	// transport tuned for fan-out: up to N idle connections kept per host
	// (so a host's connections are reused, not churned) and at most N
	// connections per host, where N is the largest per-host cap (PerHost, the
	// largest value of HostLimits, or the adaptive Max) but never above
	// Concurrency; dial and TLS handshake timeouts set, a
	// response header timeout equal to AttemptTimeout; and no client-wide
	// Timeout (AttemptTimeout applies per attempt).
	//
	// A caller-supplied Client is used through a copy that keeps its
	// Transport, Jar and Timeout but does not follow redirects: the Fetcher
	// follows them itself, hop by hop (see [Fetcher.Do]), so the Client's
	// Timeout bounds each hop. Its CheckRedirect, if set, is called before
	// each hop as net/http would call it (with the requests sent so far);
	// [MaxRedirects] still applies.
	Client *http.Client

	// Logger, if set, receives debug records of retries and robots.txt
	// fetches.
	Logger *slog.Logger

	// OnResult, if set, is called with every Result once it is final, on the
	// goroutine that produced it (a batch worker for All and Stream) and
	// before the Result is returned or yielded. It must be safe for
	// concurrent use and should return quickly.
	OnResult func(Result)

	// Robots turns on robots.txt politeness: each host's robots.txt is
	// fetched before its first request, redirect hops included (by one
	// caller at a time; the others wait for it), cached for RobotsTTL, its
	// Allow/Disallow rules applied to our UserAgent ([ErrDisallowed]) and its
	// Crawl-delay applied as a per-host minimum delay (capped at
	// [MaxCrawlDelay]). The robots.txt request follows up to 5 redirects, each
	// hop under its own host's slot and rate. A robots.txt answered with
	// another 4xx, or still redirecting, allows everything; a 5xx, 429,
	// network failure or timeout keeps the host disallowed
	// ([ErrRobotsUnavailable]) until RobotsErrorTTL passes, then it is fetched
	// again.
	Robots bool
	// RobotsTTL is how long a fetched robots.txt is used (default and
	// maximum 24h).
	RobotsTTL time.Duration
	// RobotsErrorTTL is how long a failed robots.txt fetch disallows its host
	// with [ErrRobotsUnavailable] (default 1 minute; at most RobotsTTL).
	RobotsErrorTTL time.Duration
	// RobotsMaxHosts bounds the robots.txt cache (default 1024 hosts); the
	// least recently used host is evicted first.
	RobotsMaxHosts int

	// Adaptive, if set, makes each host's cap adaptive instead of fixed at
	// PerHost: it starts at Adaptive.Initial and moves within
	// [Adaptive.Min, Adaptive.Max] (Max defaults to PerHost), shrinking on
	// 429, 503 and attempt timeouts and growing on other responses. See
	// [limit.NewAdaptiveKeyed]; Adaptive.OnChange must be nil. Adaptive and
	// HostLimits are mutually exclusive: every host adapts within the same
	// [Min, Max], so New returns [ErrInvalidOptions] if both are set.
	Adaptive *limit.AIMDOptions

	// DenyPrivateNetworks, if set, refuses to connect to any address that
	// is not public: loopback, private (10/8, 172.16/12, 192.168/16,
	// fc00::/7), link-local (169.254/16, fe80::/10), unspecified,
	// multicast, CGNAT (100.64/10), documentation, benchmarking and other
	// special-purpose ranges, and IPv6 forms carrying such an IPv4 address
	// (IPv4-mapped, NAT64, 6to4). It is for services that fetch URLs their
	// users supply (link previews, webhooks). The check runs in the dialer
	// on each resolved address, just before connecting, so neither a DNS
	// answer nor a redirect (followed by the Fetcher or by the Client of
	// [Fetcher.Client]) nor robots.txt can reach such an address; a
	// refused connection is a [*ForbiddenAddressError] ([ErrForbiddenAddress],
	// [OutcomeForbidden]), never retried, with nothing sent. With it set,
	// the transport ignores HTTP_PROXY and the like (the guard would see
	// only the proxy's address).
	//
	// The guard lives in the transport New builds, so New rejects it
	// together with Client ([ErrInvalidOptions]): it cannot reach into a
	// caller's transport. To wrap the transport yourself, take it from
	// [DefaultTransport] with DenyPrivateNetworks set (it carries the
	// guard), and pass your wrapper in Client with DenyPrivateNetworks
	// unset.
	DenyPrivateNetworks bool

	// Breaker, if set, gives every host (as keyed by PerHost) a circuit
	// breaker configured by it (see [limit.NewKeyedBreaker]; New copies it
	// and rejects OnStateChange: use OnKeyStateChange, whose key is the
	// host key string). Each attempt and redirect hop asks its host's
	// breaker before waiting for a slot: while the breaker is open, the
	// request fails at once, unsent, with [ErrHostUnavailable]
	// ([OutcomeHostUnavailable]), and is not retried; a request whose retry
	// finds the breaker open ends then, with that error wrapping the last
	// attempt's. Failures are network errors, attempt timeouts, 5xx and 429
	// responses; any other response is a success; a hop that says nothing
	// of the host (the caller's context ended, the guard refused the
	// address) counts as neither. robots.txt requests do not pass through
	// the breaker. Nil: no breakers.
	Breaker *limit.BreakerOptions

	// allowDial, if set with DenyPrivateNetworks, lets the guard connect
	// to the addresses it accepts: for tests, whose servers are all on
	// loopback.
	allowDial func(netip.AddrPort) bool
}

// DefaultRetry returns the policy used when [Options.Retry] is nil.
func DefaultRetry() *retry.Policy {
	return &retry.Policy{
		Schedule:    retry.Schedule{Initial: 200 * time.Millisecond, Max: 5 * time.Second, MaxHint: 30 * time.Second},
		MaxAttempts: 3,
	}
}

// config is Options with defaults applied and checked.
type config struct {
	Options
	perHostMax int64 // the largest per-host cap, fixed or adaptive
	hostLimits hostLimits
	policy     retry.Policy
	agentToken string
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

func (o Options) normalize() (config, error) {
	switch {
	case o.Concurrency < 0:
		return config{}, invalid("Concurrency %d < 0", o.Concurrency)
	case o.PerHost < 0:
		return config{}, invalid("PerHost %d < 0", o.PerHost)
	case o.PerHostRate < 0:
		return config{}, invalid("PerHostRate %v < 0", o.PerHostRate)
	case o.PerHostBurst < 0:
		return config{}, invalid("PerHostBurst %d < 0", o.PerHostBurst)
	case o.MinDelay < 0:
		return config{}, invalid("MinDelay %v < 0", o.MinDelay)
	case o.MinDelay > 0 && o.PerHostRate > 0:
		return config{}, invalid("set MinDelay or PerHostRate, not both")
	case o.AttemptTimeout < 0:
		return config{}, invalid("AttemptTimeout %v < 0", o.AttemptTimeout)
	case o.MaxBodyBytes < 0:
		return config{}, invalid("MaxBodyBytes %d < 0", o.MaxBodyBytes)
	case o.RobotsTTL < 0 || o.RobotsTTL > MaxRobotsTTL:
		return config{}, invalid("RobotsTTL %v outside [0, %v]", o.RobotsTTL, MaxRobotsTTL)
	case o.RobotsErrorTTL < 0:
		return config{}, invalid("RobotsErrorTTL %v < 0", o.RobotsErrorTTL)
	case o.RobotsMaxHosts < 0:
		return config{}, invalid("RobotsMaxHosts %d < 0", o.RobotsMaxHosts)
	case o.DenyPrivateNetworks && o.Client != nil:
		return config{}, invalid("DenyPrivateNetworks cannot guard a caller-supplied Client; build its transport from DefaultTransport with DenyPrivateNetworks set instead")
	case len(o.HostLimits) > 0 && o.Adaptive != nil:
		return config{}, invalid("HostLimits cannot be combined with Adaptive (every host adapts within Adaptive's [Min, Max]); set one or the other")
	}
	hl, err := parseHostLimits(o.HostLimits)
	if err != nil {
		return config{}, err
	}
	o.HostLimits = nil // parsed into hl; the caller's map is not kept
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PerHost == 0 {
		o.PerHost = DefaultPerHost
	}
	if o.PerHostBurst == 0 {
		o.PerHostBurst = 1
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.RobotsTTL == 0 {
		o.RobotsTTL = DefaultRobotsTTL
	}
	if o.RobotsErrorTTL == 0 {
		o.RobotsErrorTTL = min(DefaultRobotsErrorTTL, o.RobotsTTL)
	}
	if o.RobotsErrorTTL > o.RobotsTTL {
		return config{}, invalid("RobotsErrorTTL %v > RobotsTTL %v", o.RobotsErrorTTL, o.RobotsTTL)
	}
	if o.RobotsMaxHosts == 0 {
		o.RobotsMaxHosts = DefaultRobotsMaxHosts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := config{Options: o, perHostMax: max(int64(o.PerHost), hl.largest()), hostLimits: hl}
	if o.Adaptive != nil {
		a := *o.Adaptive
		if a.Max == 0 {
			a.Max = max(int64(o.PerHost), a.Min, a.Initial)
		}
		c.Adaptive = &a
		c.perHostMax = a.Max
	}
	if o.Retry != nil {
		if err := o.Retry.Validate(); err != nil {
			return config{}, fmt.Errorf("%w: Retry: %w", ErrInvalidOptions, err)
		}
		c.policy = *o.Retry
	} else {
		c.policy = *DefaultRetry()
	}
	c.agentToken = productToken(o.UserAgent)
	return c, nil
}

// newTransport returns the default transport, tuned for fan-out to few or
// many hosts.
func newTransport(c config) *http.Transport {
	perHost := int(min(c.perHostMax, int64(c.Concurrency)))
	t := httpx.NewTransport() // the module's dial and TLS handshake timeouts
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConns = max(100, c.Concurrency)
	t.MaxIdleConnsPerHost = perHost
	t.MaxConnsPerHost = perHost
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = c.AttemptTimeout // never cuts an attempt short of AttemptTimeout
	t.ExpectContinueTimeout = time.Second
	if c.DenyPrivateNetworks {
		d := httpx.NewDialer()
		d.Control = dialGuard(c.allowDial)
		t.DialContext = d.DialContext
		t.Proxy = nil // the guard must see the target's address, not a proxy's
	}
	return t
}

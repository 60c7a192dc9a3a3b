// Package fetch is a bounded, polite, concurrent HTTP fetcher.
//
// Create a [Fetcher] with [New], then fetch single URLs ([Fetcher.Get],
// [Fetcher.Do]) or batches ([Fetcher.All], in input order; [Fetcher.Stream],
// as results complete):
//
//	f, err := fetch.New(fetch.Options{Concurrency: 32, PerHost: 4, Robots: true})
//	if err != nil {
//		return err
//	}
//	defer f.CloseIdleConnections()
//	for _, r := range f.All(ctx, urls) {
//		if r.Err != nil {
//			log.Printf("%s: %s: %v", r.URL, r.Outcome(), r.Err)
//			continue
//		}
//		process(r.URL, r.Body)
//	}
//
// Every request runs under two concurrency caps: a global one
// ([Options.Concurrency]) and one per host ([Options.PerHost], or
// [Options.HostLimits] for particular hosts), optionally with a per-host rate
// or minimum delay, robots.txt rules and Crawl-delay, and an adaptive (AIMD)
// per-host cap. Every URL ends in exactly one [Result]: a 2xx response with
// its whole body, or an error that says what happened. A non-2xx final status
// is a [*StatusError]; a body longer than [Options.MaxBodyBytes] is
// [ErrBodyTooLarge], never a truncated body.
//
// # Outcomes
//
// [Result.Outcome] puts every Result in exactly one category ([OutcomeOK],
// [OutcomeStatusError], [OutcomeNetworkError], [OutcomeTimeout],
// [OutcomeTooLarge], [OutcomeDisallowed], [OutcomeRobotsUnavailable],
// [OutcomeCanceled], [OutcomeInvalid], [OutcomeForbidden],
// [OutcomeHostUnavailable] or [OutcomeOther]), the same one whose
// counter [Stats] increments. Prefer it to chains of [errors.Is]: [Result.Err]
// may match several sentinels at once (an attempt timeout also matches
// [context.DeadlineExceeded]; a cancellation during a retry's backoff also
// wraps the last attempt's *StatusError), and Outcome resolves them in a
// documented order.
//
// A request that cannot be sent at all (a URL that does not parse, a
// scheme other than http or https, no host, a port outside 1-65535) is
// [ErrInvalidRequest], OutcomeInvalid: it fails at once, before any wait,
// with Attempts 0 and no retry. With [Options.Robots], a URL that robots.txt
// forbids is [ErrDisallowed]; a host whose robots.txt could not be fetched
// (5xx, 429, network error, timeout) is kept disallowed too, but reported
// as [ErrRobotsUnavailable], its own outcome, wrapping the cause.
//
// # Hosts
//
// Per-host limits are keyed by the URL's lower-cased host name and port,
// the port defaulting from the scheme (80 for http, 443 for https). So
// http://Example.com and http://example.com:80 share a cap, while two
// listeners on 127.0.0.1 with different ports are different hosts. Every host
// gets [Options.PerHost], except those given a cap of their own in
// [Options.HostLimits], whose keys are:
//
//   - a host name or IP address, optionally with a port: "api.example.com",
//     "api.example.com:8443", "127.0.0.1:8080", "[::1]:8080" (an IPv6
//     address is bracketed, as in a URL); host names match case-insensitively;
//   - without a port, for that host on every port (http, https and any
//     explicit port alike): "example.com";
//   - with a port, for that host and port only, a URL without a port having
//     its scheme's default port; "example.com:8443" wins over "example.com";
//   - rejected by [New] when malformed (with a path, user info, or a port
//     that is empty, outside 1-65535 or has a leading zero), or when two keys
//     differ only in case.
//
// # Slots, timeouts and head-of-line blocking
//
// Each attempt first takes a slot of its host, then waits for the host's rate
// limit or Crawl-delay, and only then takes a global slot. A request queued
// behind a slow or busy host therefore never holds a global slot that requests
// to other hosts could use. [Options.AttemptTimeout] is one attempt's time
// limit; it starts when the request is sent, holding both slots, so waiting in
// a queue never eats into it. Both slots are released before a retry's backoff.
//
// # Redirects
//
// The Fetcher follows redirects itself, never inside the [http.Client], and
// every hop is a request to its own host: it waits for that host's slot, rate
// or Crawl-delay and robots.txt verdict like a first request, after the
// previous hop has given its slots back (so a hop never holds two hosts'
// slots), and has its own [Options.AttemptTimeout]. A hop into a path that
// robots.txt forbids ends the Result with [ErrDisallowed], and is not sent.
// Methods, bodies, credential headers and Referer follow net/http's rules; at
// most [MaxRedirects] redirects are followed, and a redirect that cannot be
// followed is [ErrRedirect]. A retry starts again from the request's own URL.
// [Result.FinalURL] is the URL of the last response; [Stats.Redirects] counts
// the hops sent. See [Fetcher.Do].
//
// [Fetcher.Do] ends when its ctx or the request's own context ends, whichever
// is first, and sends nothing if either has already ended.
//
// # Batches
//
// [Fetcher.All] and [Fetcher.Stream] keep many hosts busy at once, in whatever
// order their URLs come. A batch hands a URL to one of its goroutines only
// while fewer of the batch's URLs for that host are in progress than the host's
// cap ([Options.PerHost], [Options.HostLimits], or the current adaptive cap).
// URLs for a host at its cap wait in a queue of their host and start in input
// order as the host's URLs finish. So a slow or tightly capped host holds only
// its own cap's worth of the batch's goroutines, and the other hosts use the
// rest: a batch over a slow host and a fast one takes about as long as the
// slower of the two, not their sum.
//
// A goroutine makes one attempt of a URL at a time. A URL to be retried is
// handed back to the batch, which parks it until its backoff is over: it holds
// no goroutine, no slot and no share of [Options.Concurrency] meanwhile, so
// while other URLs can run the batch keeps Concurrency of them in progress, and
// one host answering 503 with a long Retry-After does not stall the others. A
// URL whose backoff is over goes ahead of its host's URLs not yet started,
// within the host's cap. [Stats.BackingOff] counts the URLs parked (and the Get
// and Do calls sleeping out a backoff).
//
// Memory stays bounded: a batch reads more input only while fewer than
// 4 × [Options.Concurrency] of its URLs wait, for a busy host or out a
// backoff, so at most 5 × Concurrency URLs are read and not yet done. If
// ctx ends, every parked URL ends at once with a [*retry.Error] whose Reason
// is the context's error and which wraps the last attempt's error.
//
// For a URL of a batch, [Result.Duration] runs from when the batch took the
// URL from its input, and [Result.Wait] is the part of it before the first
// attempt was sent (the batch's queues, slots, rate, robots.txt), so
// Duration - Wait is the URL's own time.
//
// # Retries
//
// Transient failures (network errors, resets, attempt timeouts, and status 408,
// 425, 429, 500, 502, 503 and 504) are retried under a [retry.Policy]
// ([Options.Retry], by default [DefaultRetry]), only for requests that are safe
// to repeat: idempotent methods or an Idempotency-Key header, with no body or a
// body that [http.Request.GetBody] recreates. A Retry-After header (seconds or
// any HTTP date form) sets the minimum wait, capped by the policy's
// [retry.Schedule.MaxHint] and jittered. Every response body is drained (up to
// 64 KiB) and closed so that connections are reused, and the Fetcher never
// closes idle connections on its own.
//
// # net/http plumbing
//
// [Fetcher.Transport] is an [http.RoundTripper] and [Fetcher.Client] a ready
// [http.Client] on it: code that takes an *http.Client gets the Fetcher's
// caps, per-host rate, robots.txt rules, and retries of requests safe to
// repeat (with Retry-After), and counts in its Stats. A RoundTripper returns
// redirects unfollowed (the http.Client follows them, each hop a request of
// its own) and non-2xx responses as responses. [Fetcher.Open] is [Fetcher.Do]
// with the body streamed instead of read into [Result.Body], bounded by
// [Options.MaxBodyBytes]. A streamed body holds its host's slot and a global
// slot until it is closed or a Read returns an error (io.EOF at the end);
// close it, as net/http requires,
// or its slots stay taken until [Options.AttemptTimeout] has passed since
// the request was sent (no finalizer gives them back). [Fetcher.AllRequests]
// and [Fetcher.StreamRequests] are All and Stream over *http.Request values
// (any method, header and body), with the same ordering, streaming and
// early-break guarantees.
//
// # Non-public addresses
//
// [Options.DenyPrivateNetworks] makes the Fetcher refuse to connect to
// loopback, private, link-local, CGNAT, multicast and other non-public
// addresses, for services that fetch URLs their users supply. It is checked
// in the dialer on the resolved address, so a host name resolving to
// 127.0.0.1, or a redirect to http://169.254.169.254/, is refused like the
// address itself, before anything is sent: a [*ForbiddenAddressError]
// ([ErrForbiddenAddress], [OutcomeForbidden]), never retried.
//
// # Circuit breakers
//
// [Options.Breaker] gives each host a circuit breaker ([limit.KeyedBreaker]):
// network errors, attempt timeouts, 5xx and 429 count as failures, any other
// response as a success. While a host's breaker is open, its requests and
// redirect hops fail at once, unsent and not retried, with
// [ErrHostUnavailable] ([OutcomeHostUnavailable], also matching
// [limit.ErrBreakerOpen]) instead of spending every URL's retries on a host
// that is down; after the cool-down, a probe request decides whether the
// host is back.
//
// # Goroutines
//
// [New] starts no goroutines. [Fetcher.All] and [Fetcher.Stream] start at most
// [Options.Concurrency] goroutines each and wait for them before returning. The
// only goroutines that may remain are the HTTP transport's idle keep-alive
// connections, and those of bodies streamed by [Fetcher.Open] or the
// Transport until they are closed; [Fetcher.CloseIdleConnections] ends the
// idle ones.
package fetch

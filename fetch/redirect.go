package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxRedirects is the most redirects one attempt follows, as net/http's
// default; the next one ends the Result with [ErrRedirect].
const MaxRedirects = 10

// noFollow is the CheckRedirect of the client the Fetcher sends with: it
// makes client.Do return every redirect response, so that the Fetcher
// follows redirects itself, one hop at a time.
func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// checkURL returns nil if u can be requested: an http or https URL with a
// host and, if it has a port, a port in 1-65535. Otherwise it says why.
func checkURL(u *url.URL) error {
	switch {
	case u.Scheme == "":
		return errors.New("no scheme (want http or https)")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.Hostname() == "":
		return errors.New("no host")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("port %q is not in 1-65535", port)
		}
	} else if h := strings.TrimSuffix(u.Host, ":"); strings.Contains(h, ":") &&
		!(strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]")) {
		return fmt.Errorf("host %q has no valid port", u.Host)
	}
	return nil
}

// invalidURL returns the [ErrInvalidRequest] error of a URL that checkURL
// rejected with why.
func invalidURL(u *url.URL, why error) error {
	return fmt.Errorf("%w: %s: %w", ErrInvalidRequest, u.Redacted(), why)
}

// checkRequest returns an error wrapping [ErrInvalidRequest] if req cannot be
// sent: nil, no URL, a URL that checkURL rejects, or a method that is not
// an HTTP token.
func checkRequest(req *http.Request) error {
	if req == nil || req.URL == nil {
		return fmt.Errorf("%w: nil request or URL", ErrInvalidRequest)
	}
	if err := checkURL(req.URL); err != nil {
		return invalidURL(req.URL, err)
	}
	if !validMethod(req.Method) {
		return fmt.Errorf("%w: method %q", ErrInvalidRequest, req.Method)
	}
	return nil
}

// validMethod reports whether m is "" (GET) or an HTTP token (RFC 9110).
func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isRedirect reports whether code is a redirect the Fetcher follows, as
// net/http does: 301, 302, 303, 307 and 308.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// isLocationError reports whether err is net/http's error for a redirect
// whose Location does not parse: the Client returns it, without the
// response, before it would call CheckRedirect.
func isLocationError(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && strings.HasPrefix(ue.Err.Error(), "failed to parse Location header")
}

// chain is the state of the redirects followed by one attempt.
type chain struct {
	ireq     *http.Request   // the request as given: its URL, body and GetBody
	sent     time.Time       // when ireq was sent, the attempt's first hop
	header   http.Header     // the header of the first hop as sent (User-Agent set)
	hops     int             // redirects followed so far
	noBody   bool            // a 301, 302 or 303 dropped the body: no later hop sends it
	strip    bool            // the chain left the first host's domain: no credentials
	sendBody bool            // the next hop sends the body again (a 307 or 308)
	via      []*http.Request // the hops sent, for the caller's CheckRedirect only
	mode     mode            // how the last response is handed over
	held     *http.Response  // the last response, held unread (see mode), or nil
}

// redirect decides what follows resp, the redirect answering out. It
// returns the next hop to send, or nil and a nil error if resp is final
// (no Location, or the caller's CheckRedirect returned
// http.ErrUseLastResponse), or nil and why the redirect is not followed.
// It reads nothing from resp.Body.
func (f *Fetcher) redirect(c *chain, out *http.Request, resp *http.Response) (*http.Request, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil // 3xx responses without a Location exist; this one is final
	}
	u, err := out.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("redirect Location %q does not parse: %w", loc, err)
	}
	if err := checkURL(u); err != nil {
		return nil, fmt.Errorf("redirect Location %q: %w", loc, err)
	}
	method := out.Method
	sendBody := false
	switch resp.StatusCode {
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		// Same method and body; a body dropped by an earlier hop stays so.
		if !c.noBody && hasBody(c.ireq) {
			if c.ireq.GetBody == nil {
				return nil, fmt.Errorf("a %d needs the request body again and req.GetBody is nil", resp.StatusCode)
			}
			sendBody = true
		}
	default: // 301, 302, 303: GET without a body, but HEAD stays HEAD
		if method != http.MethodGet && method != http.MethodHead {
			method = http.MethodGet
		}
		c.noBody = true
	}
	next := &http.Request{
		Method: method, URL: u, Header: make(http.Header, len(c.header)+1),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Response: resp,
	}
	if h := out.Host; h != "" && h != out.URL.Host {
		// A Host header set by the caller stays for a relative Location.
		if lu, err := url.Parse(loc); err == nil && !lu.IsAbs() {
			next.Host = h
		}
	}
	if !c.strip && !sameDomain(c.ireq.URL, u) {
		c.strip = true // sticky, as in net/http
	}
	for k, vv := range c.header {
		if c.strip && sensitiveHeader(k) || c.noBody && bodyHeader(k) {
			continue
		}
		next.Header[k] = vv
	}
	if ref := referer(out.URL, u, next.Header.Get("Referer")); ref != "" {
		next.Header.Set("Referer", ref)
	}
	if f.checkRedirect != nil {
		c.via = append(c.via, out)
		if err := f.checkRedirect(next, c.via); err != nil {
			if errors.Is(err, http.ErrUseLastResponse) {
				return nil, nil
			}
			return nil, fmt.Errorf("CheckRedirect: %w", err)
		}
	}
	if c.hops >= MaxRedirects {
		return nil, fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	c.hops++
	c.sendBody = sendBody
	return next, nil
}

// prepare returns next, the hop redirect returned, to send with ctx: with a
// fresh body from GetBody if it sends the body again.
func (c *chain) prepare(ctx context.Context, next *http.Request) (*http.Request, error) {
	out := next.WithContext(ctx)
	if c.sendBody {
		body, err := c.ireq.GetBody()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errGetBody, err)
		}
		out.Body, out.GetBody, out.ContentLength = body, c.ireq.GetBody, c.ireq.ContentLength
	}
	return out, nil
}

// hasBody reports whether req sends a body.
func hasBody(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

// sameDomain reports whether dest's host is from's host or a subdomain of
// it, the rule by which net/http keeps credentials on a redirect. An IP
// address matches only itself.
func sameDomain(from, dest *url.URL) bool {
	f, d := strings.ToLower(from.Hostname()), strings.ToLower(dest.Hostname())
	if f == d {
		return true
	}
	if net.ParseIP(f) != nil || net.ParseIP(d) != nil {
		return false
	}
	return strings.HasSuffix(d, "."+f)
}

// sensitiveHeader reports whether header k carries credentials, which a
// redirect to another domain does not get.
func sensitiveHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Authorization", "Www-Authenticate", "Cookie", "Cookie2",
		"Proxy-Authorization", "Proxy-Authenticate":
		return true
	}
	return false
}

// bodyHeader reports whether header k describes the request body, which a
// redirect that drops the body does not keep.
func bodyHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Encoding", "Content-Language", "Content-Location", "Content-Length":
		return true
	}
	return false
}

// referer returns the Referer of a hop from last to next: explicit if the
// caller set one, else last without user info and fragment; none from https
// to http (RFC 9110, section 10.1.3).
func referer(last, next *url.URL, explicit string) string {
	if last.Scheme == "https" && next.Scheme == "http" {
		return ""
	}
	if explicit != "" {
		return explicit
	}
	r := *last
	r.User, r.Fragment, r.RawFragment = nil, "", ""
	return r.String()
}

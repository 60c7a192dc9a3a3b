package fetch

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
)

// robotsMaxBytes is how much of a robots.txt is parsed; RFC 9309 asks
// crawlers to parse at least 500 KiB and allows ignoring the rest.
const robotsMaxBytes = 500 << 10

// robotsRules are the rules of one robots.txt that apply to one product
// token: the groups naming it, or else the "*" groups.
type robotsRules struct {
	rules      []robotsRule
	crawlDelay time.Duration
}

type robotsRule struct {
	pattern string // normalised path pattern, may contain '*' and a final '$'
	allow   bool
}

// productToken returns the robots.txt product token of a User-Agent value:
// its first token up to '/' or a space, lower-cased.
func productToken(userAgent string) string {
	ua := strings.TrimSpace(userAgent)
	if i := strings.IndexAny(ua, "/ \t"); i >= 0 {
		ua = ua[:i]
	}
	return strings.ToLower(ua)
}

// parseRobots parses a robots.txt body (RFC 9309) and keeps the rules for
// agent, a lower-case product token. Groups naming agent (case-insensitive)
// are merged; if there are none, the "*" groups are used; if there are none
// either, everything is allowed. Unknown lines and lines without ':' are
// ignored. Only the first robotsMaxBytes bytes are read.
func parseRobots(body []byte, agent string) *robotsRules {
	if len(body) > robotsMaxBytes {
		body = body[:robotsMaxBytes]
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))

	var mine, star robotsRules
	var foundMine, delayMine, delayStar bool
	var inMine, inStar bool // current group applies to agent / to "*"
	groupHasRules := false  // a rule line was seen since the group's user-agent lines

	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		key, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		k := strings.ToLower(string(bytes.TrimSpace(key)))
		v := string(bytes.TrimSpace(value))
		switch k {
		case "user-agent":
			if groupHasRules {
				inMine, inStar, groupHasRules = false, false, false
			}
			switch tok := productToken(v); {
			case tok == "*":
				inStar = true
			case tok != "" && tok == agent:
				inMine, foundMine = true, true
			}
		case "allow", "disallow":
			groupHasRules = true
			if v == "" {
				continue // "Disallow:" with no path allows everything: no rule
			}
			r := robotsRule{pattern: normalizePattern(v), allow: k == "allow"}
			if inMine {
				mine.rules = append(mine.rules, r)
			}
			if inStar {
				star.rules = append(star.rules, r)
			}
		case "crawl-delay":
			groupHasRules = true
			d, ok := parseCrawlDelay(v)
			if !ok {
				continue
			}
			if inMine && !delayMine {
				mine.crawlDelay, delayMine = d, true
			}
			if inStar && !delayStar {
				star.crawlDelay, delayStar = d, true
			}
		}
	}
	if foundMine {
		return &mine
	}
	return &star
}

// parseCrawlDelay parses a Crawl-delay value in (possibly fractional)
// seconds, capped at [MaxCrawlDelay].
func parseCrawlDelay(v string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, false
	}
	if f >= MaxCrawlDelay.Seconds() {
		return MaxCrawlDelay, true
	}
	return time.Duration(f * float64(time.Second)), true
}

// allowed reports whether path (the URL's escaped path and query) may be
// fetched: the longest matching pattern wins, Allow winning a tie; with no
// match the path is allowed. /robots.txt itself is always allowed.
func (r *robotsRules) allowed(path string) bool {
	if path == "" {
		path = "/"
	}
	if path == "/robots.txt" {
		return true
	}
	path = normalizePattern(path)
	best, allow := -1, true
	for _, rule := range r.rules {
		n := len(rule.pattern)
		if n < best || (n == best && allow) {
			continue
		}
		if matchPattern(rule.pattern, path) {
			best, allow = n, rule.allow
		}
	}
	return allow
}

// normalizePattern upper-cases the hex digits of percent-escapes and
// percent-encodes bytes outside printable ASCII, so that patterns and paths
// compare octet by octet as RFC 9309 asks.
func normalizePattern(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || (c == '%' && i+2 < len(s) && (isLowerHex(s[i+1]) || isLowerHex(s[i+2]))) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte('%')
			b.WriteByte(upper(s[i+1]))
			b.WriteByte(upper(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }
func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
func upper(c byte) byte {
	if isLowerHex(c) {
		return c - 'a' + 'A'
	}
	return c
}

// matchPattern reports whether path matches a robots.txt pattern: a prefix
// match in which '*' matches any run of bytes and a final '$' anchors the
// end. It runs in O(len(pattern)·len(path)) at worst, without backtracking.
func matchPattern(pattern, path string) bool {
	anchored := strings.HasSuffix(pattern, "$")
	if anchored {
		pattern = pattern[:len(pattern)-1]
	}
	if !strings.Contains(pattern, "*") {
		if anchored {
			return path == pattern
		}
		return strings.HasPrefix(path, pattern)
	}
	parts := strings.Split(pattern, "*")
	first, last := parts[0], parts[len(parts)-1]
	if !strings.HasPrefix(path, first) {
		return false
	}
	rest := path[len(first):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	if anchored {
		return strings.HasSuffix(rest, last)
	}
	return strings.Contains(rest, last)
}

package fetch

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseRobotsGroupsAndLongestMatch(t *testing.T) {
	body := "\xef\xbb\xbf# comment\n" +
		"User-agent: OtherBot\n" +
		"Disallow: /\n" +
		"\n" +
		"User-agent: *\n" +
		"Disallow: /private\n" +
		"Allow: /private/open\n" +
		"Crawl-delay: 2\n" +
		"\n" +
		"user-agent: Sluice-Fetch/2.0\r\n" +
		"User-Agent: another\r\n" +
		"DISALLOW: /tmp/ # trailing comment\r\n" +
		"Allow: /tmp/ok$\r\n" +
		"Disallow: /*.pdf$\r\n" +
		"Disallow: /a*b*c\r\n" +
		"Disallow:\r\n" +
		"Crawl-delay: 0.5\r\n" +
		"Sitemap: http://x/sitemap.xml\r\n" +
		"User-agent: sluice-fetch\r\n" +
		"Disallow: /merged\r\n"

	mine := parseRobots([]byte(body), "sluice-fetch")
	assert.Equal(t, 500*time.Millisecond, mine.crawlDelay)
	for path, want := range map[string]bool{
		"/":               true,
		"/private":        true, // the * group does not apply: ours exists
		"/tmp/":           false,
		"/tmp/x":          false,
		"/tmp/ok":         true,
		"/tmp/ok2":        false, // $ anchors the Allow
		"/doc.pdf":        false,
		"/doc.pdf?x=1":    true,
		"/axxbyyc":        false,
		"/axxbyy":         true,
		"/merged/page":    false, // second group for the same agent is merged
		"/robots.txt":     true,
		"/TMP/":           true, // paths are case-sensitive
		"":                true,
		"/tmp%2fx":        true,
		"/search?q=a b":   true,
		"/caf\xc3\xa9/xx": true,
	} {
		assert.Equal(t, want, mine.allowed(path), "path %q", path)
	}

	star := parseRobots([]byte(body), "somebot")
	assert.Equal(t, 2*time.Second, star.crawlDelay)
	assert.True(t, star.allowed("/"))
	assert.False(t, star.allowed("/private/x"))
	assert.True(t, star.allowed("/private/open/x"), "longest match wins")

	other := parseRobots([]byte(body), "otherbot")
	assert.False(t, other.allowed("/anything"))
	assert.True(t, other.allowed("/robots.txt"))
}

func TestParseRobotsTieGoesToAllowAndEscapes(t *testing.T) {
	r := parseRobots([]byte("User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /%e2%82%ac\nDisallow: /caf\xc3\xa9\n"), "x")
	assert.True(t, r.allowed("/page"), "an Allow of equal length wins")
	assert.False(t, r.allowed("/%E2%82%AC/x"), "percent-escapes compare case-insensitively")
	assert.False(t, r.allowed("/caf%C3%A9"), "non-ASCII patterns match their percent-encoding")
}

func TestParseRobotsEmptyAndNoGroups(t *testing.T) {
	assert.True(t, parseRobots(nil, "x").allowed("/a"))
	assert.True(t, parseRobots([]byte("Disallow: /\n"), "x").allowed("/a"), "rules before any user-agent line are ignored")
	assert.True(t, parseRobots([]byte("User-agent: *\nDisallow:\n"), "x").allowed("/a"))
	r := parseRobots([]byte("User-agent: *\nCrawl-delay: 1e9\nDisallow: /\n"), "x")
	assert.Equal(t, MaxCrawlDelay, r.crawlDelay)
	r = parseRobots([]byte("User-agent: *\nCrawl-delay: -1\nCrawl-delay: NaN\n"), "x")
	assert.Zero(t, r.crawlDelay)
}

func TestProductToken(t *testing.T) {
	assert.Equal(t, "sluice-fetch", productToken("Sluice-Fetch/1.0 (+https://example.com)"))
	assert.Equal(t, "mybot", productToken("  MyBot"))
	assert.Equal(t, "", productToken(""))
}

func TestMatchPattern(t *testing.T) {
	for _, tt := range []struct {
		pattern, path string
		want          bool
	}{
		{"/", "/x", true},
		{"/a", "/b", false},
		{"/a$", "/a", true},
		{"/a$", "/ab", false},
		{"*", "/anything", true},
		{"/*/b", "/x/y/b", true},
		{"/*/b$", "/x/b/c", false},
		{"/*b$", "/xbb", true},
		{"/a**b", "/ab", true},
		{"$", "", true},
		{"/x*$", "/x/y", true},
	} {
		assert.Equal(t, tt.want, matchPattern(tt.pattern, tt.path), "%q ~ %q", tt.pattern, tt.path)
	}
}

func FuzzParseRobots(f *testing.F) {
	f.Add("User-agent: *\nDisallow: /private\nAllow: /private/open\nCrawl-delay: 1.5\n", "/private/x")
	f.Add("User-agent: sluice-fetch\nDisallow: /*.pdf$\n", "/a.pdf")
	f.Add("user-agent:*\r\ndisallow:/a*b*c$\r\n#x\r\n", "/aXbYc")
	f.Add("\xef\xbb\xbfUser-agent: *\nDisallow: /%e2%82%ac\n", "/%E2%82%AC")
	f.Fuzz(func(t *testing.T, body, path string) {
		r := parseRobots([]byte(body), "sluice-fetch")
		if r.crawlDelay < 0 || r.crawlDelay > MaxCrawlDelay {
			t.Fatalf("crawl delay %v out of range", r.crawlDelay)
		}
		if !r.allowed("/robots.txt") {
			t.Fatal("/robots.txt must always be allowed")
		}
		got := r.allowed(path)
		if got != r.allowed(path) {
			t.Fatal("allowed is not deterministic")
		}
		if !strings.Contains(body, ":") && !got {
			t.Fatal("a robots.txt without directives must allow everything")
		}
		for _, rule := range r.rules {
			if rule.pattern == "" {
				t.Fatal("empty patterns must be dropped")
			}
		}
	})
}

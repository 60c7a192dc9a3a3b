package retry

import (
	"math"
	"strings"
	"time"
)

// httpDateLayouts are the three date forms HTTP allows (RFC 9110 section
// 5.6.7): IMF-fixdate, the obsolete RFC 850 form, and ANSI C's asctime; the
// same layouts net/http's ParseTime accepts.
var httpDateLayouts = [...]string{
	"Mon, 02 Jan 2006 15:04:05 GMT",
	time.RFC850,
	time.ANSIC,
}

// ParseRetryAfter parses the value of an HTTP Retry-After header and returns
// how long to wait from now. It accepts delta-seconds ("120") and the three
// HTTP date forms: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
// A date in the past gives 0; delta-seconds too large for a time.Duration
// saturate at the largest one. ok is false when the value is none of these
// forms. The result is not capped: pass it to [After], and Policy.MaxHint
// caps the wait.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(value)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		const maxSeconds = math.MaxInt64 / int64(time.Second)
		var n int64
		for i := 0; i < len(v); i++ {
			n = n*10 + int64(v[i]-'0')
			if n > maxSeconds {
				return math.MaxInt64, true
			}
		}
		return time.Duration(n) * time.Second, true
	}
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	return 0, false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

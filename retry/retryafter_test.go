package retry_test

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(1994, time.November, 6, 8, 49, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"3600", time.Hour, true},
		{"99999999999999999999999", math.MaxInt64, true},           // saturates; MaxHint caps it
		{"Sun, 06 Nov 1994 08:49:37 GMT", 37 * time.Second, true},  // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", 37 * time.Second, true}, // RFC 850, ignored by go-retryablehttp #247
		{"Sun Nov  6 08:49:37 1994", 37 * time.Second, true},       // asctime
		{"Sat, 05 Nov 1994 08:49:37 GMT", 0, true},                 // in the past
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"Sun, 06 Nov 1994 08:49:37 PST", 0, false},
	}
	for _, c := range cases {
		d, ok := retry.ParseRetryAfter(c.in, now)
		assert.Equal(t, c.ok, ok, "%q", c.in)
		assert.Equal(t, c.want, d, "%q", c.in)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994", "99999999999999999999", " 7 ", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := retry.ParseRetryAfter(s, now)
		if d < 0 {
			t.Fatalf("negative duration %v for %q", d, s)
		}
		if !ok && d != 0 {
			t.Fatalf("not ok but d = %v for %q", d, s)
		}
		v := strings.TrimSpace(s)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < math.MaxInt64/int64(time.Second) && strings.Trim(v, "0123456789") == "" {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("%q: got %v, %v; want %ds", s, d, ok, n)
			}
		}
		// Agree with net/http on dates.
		if tm, err := http.ParseTime(v); err == nil {
			want := max(tm.Sub(now), 0)
			if !ok || d != want {
				t.Fatalf("%q: got %v, %v; net/http says %v", s, d, ok, want)
			}
		}
	})
}

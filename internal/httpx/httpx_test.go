package httpx

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sluicego/sluice/retry"
)

func TestRetryableStatusList(t *testing.T) {
	want := map[int]bool{408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true}
	for code := 100; code < 600; code++ {
		assert.Equal(t, want[code], RetryableStatus(code), "status %d", code)
	}
}

func TestRetryableStatusNotImplementedIsPermanent(t *testing.T) {
	assert.False(t, RetryableStatus(http.StatusNotImplemented))
	assert.False(t, RetryableStatus(http.StatusHTTPVersionNotSupported))
}

func TestWithRetryAfterCountsForEveryRetryableStatus(t *testing.T) {
	base := errors.New("refused")
	for _, code := range []int{408, 425, 429, 500, 502, 503, 504} {
		h := http.Header{"Retry-After": {"7"}}
		err := WithRetryAfter(base, code, h)
		d, ok := retry.Hint(err)
		assert.True(t, ok, "status %d", code)
		assert.Equal(t, 7*time.Second, d, "status %d", code)
		assert.ErrorIs(t, err, base)
	}
}

func TestWithRetryAfterIgnoredForPermanentStatus(t *testing.T) {
	base := errors.New("refused")
	for _, code := range []int{200, 301, 400, 404, 501, 505} {
		err := WithRetryAfter(base, code, http.Header{"Retry-After": {"7"}})
		assert.Same(t, base, err, "status %d", code)
	}
}

func TestWithRetryAfterMissingOrMalformed(t *testing.T) {
	base := errors.New("refused")
	assert.Same(t, base, WithRetryAfter(base, 503, http.Header{}))
	assert.Same(t, base, WithRetryAfter(base, 503, http.Header{"Retry-After": {"soon"}}))
}

func TestWithRetryAfterHTTPDate(t *testing.T) {
	at := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	d, ok := retry.Hint(WithRetryAfter(errors.New("x"), 429, http.Header{"Retry-After": {at}}))
	assert.True(t, ok)
	assert.InDelta(t, float64(time.Hour), float64(d), float64(2*time.Second))
}

func TestSnippetKeepsTheFirst512Bytes(t *testing.T) {
	assert.Equal(t, []byte("short"), Snippet(strings.NewReader("short")))
	assert.Len(t, Snippet(strings.NewReader(strings.Repeat("x", 4096))), SnippetBytes)
	assert.Empty(t, Snippet(strings.NewReader("")))
}

func TestNewTransportHasTheDefaultTimeouts(t *testing.T) {
	tr := NewTransport()
	assert.Equal(t, 10*time.Second, tr.TLSHandshakeTimeout)
	assert.Equal(t, 30*time.Second, tr.ResponseHeaderTimeout)
	assert.NotNil(t, tr.Proxy)
	assert.NotNil(t, tr.DialContext)
	d := NewDialer()
	assert.Equal(t, 10*time.Second, d.Timeout)
	assert.Equal(t, 30*time.Second, d.KeepAlive)
}

package fetch

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// badURLs cannot be requested at all: malformed, a port out of range or
// not a number, a scheme other than http or https, no host.
var badURLs = []string{
	"http://127.0.0.1:99999/",
	"http://127.0.0.1:65536/x",
	"http://127.0.0.1:0/",
	"http://127.0.0.1:00/",
	"http://127.0.0.1:8o/",
	"ftp://127.0.0.1/file",
	"mailto:someone@example.com",
	"http://[::1/",
	"http:///no-host",
	"http://:80/",
	"/relative",
	"",
	"::bad",
	"http://a b/",
}

// Issue 10 item 3: Get("http://127.0.0.1:99999/") was retried three times as
// a network error, with backoff, though nothing was ever sent. A request
// that cannot be sent is one permanent outcome: no attempt, no backoff.
func TestRequestNeverSentIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent, retries int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			sent++
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Robots: true, Retry: &retry.Policy{Schedule: retry.Schedule{Initial: 200 * time.Millisecond}, MaxAttempts: 3, OnRetry: func(int, error, time.Duration) { retries++ }}})
		start := time.Now()
		for _, u := range badURLs {
			r := f.Get(context.Background(), u)
			require.ErrorIs(t, r.Err, ErrInvalidRequest, u)
			assert.Equal(t, OutcomeInvalid, r.Outcome(), "%s: %v", u, r.Err)
			assert.Zero(t, r.Attempts, u)
			assert.Empty(t, r.FinalURL, u)
		}
		assert.Zero(t, time.Since(start), "no backoff")
		assert.Zero(t, sent, "nothing sent, not even robots.txt")
		assert.Zero(t, retries)
		st := f.Stats()
		assert.Equal(t, int64(len(badURLs)), st.Invalid)
		assert.Zero(t, st.Attempts)
		assert.Zero(t, st.OtherErrors+st.NetworkErrors)
	})
}

// The same URLs in a batch: each fails in its place with OutcomeInvalid.
func TestBatchRequestNeverSentIsInvalid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client, Concurrency: 2})
		urls := append([]string{"http://h/ok"}, badURLs...)
		res := f.All(context.Background(), urls)
		require.NoError(t, res[0].Err)
		for i, u := range badURLs {
			assert.Equal(t, OutcomeInvalid, res[i+1].Outcome(), "%s: %v", u, res[i+1].Err)
			assert.Zero(t, res[i+1].Attempts, u)
		}
	})
}

// Do rejects what Get cannot produce: a nil request or URL, an invalid
// method, a URL built by hand with a bad port.
func TestDoInvalidRequestIsNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			sent++
			return fakeResponse(r, http.StatusOK, "ok"), nil
		})
		f := newFetcher(t, Options{Client: client})
		badMethod, err := http.NewRequest(http.MethodGet, "http://h/", nil)
		require.NoError(t, err)
		badMethod.Method = "GET /x"
		for _, req := range []*http.Request{
			nil,
			{Method: http.MethodGet},
			badMethod,
			{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: "h:abc"}, Header: http.Header{}},
			{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: "h:70000"}, Header: http.Header{}},
			{Method: http.MethodGet, URL: &url.URL{Scheme: "HTTP", Host: "h"}, Header: http.Header{}},
		} {
			r := f.Do(context.Background(), req)
			require.ErrorIs(t, r.Err, ErrInvalidRequest)
			assert.Equal(t, OutcomeInvalid, r.Outcome())
			assert.Zero(t, r.Attempts)
		}
		assert.Zero(t, sent)
		assert.Equal(t, int64(6), f.Stats().Invalid)
	})
}

func TestCheckURLAcceptsWhatCanBeSent(t *testing.T) {
	for _, raw := range []string{
		"http://h", "https://h/", "http://h:/", "http://h:080/", "http://h:65535/",
		"http://[::1]/", "http://[::1]:8080/", "http://[::1]:/", "http://user:pw@h/",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		assert.NoError(t, checkURL(u), raw)
	}
}

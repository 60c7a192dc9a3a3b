package fetch

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body over MaxBodyBytes is an error, never silently truncated (colly).
func TestOversizedBodyIsErrorNotTruncated_colly(t *testing.T) {
	const limit = 1000
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := 2000
		if r.URL.Path == "/exact" || r.URL.Path == "/exact-chunked" {
			n = limit
		}
		if !strings.HasSuffix(r.URL.Path, "chunked") {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		} else {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		_, _ = io.WriteString(w, strings.Repeat("x", n))
	})
	f := newFetcher(t, Options{MaxBodyBytes: limit, Retry: fastRetry(3)})
	for _, path := range []string{"/big", "/big-chunked"} {
		res := f.Get(context.Background(), srv.URL+path)
		require.ErrorIs(t, res.Err, ErrBodyTooLarge, path)
		assert.Nil(t, res.Body, path)
		assert.Equal(t, 1, res.Attempts, "not retried: %s", path)
	}
	for _, path := range []string{"/exact", "/exact-chunked"} {
		res := f.Get(context.Background(), srv.URL+path)
		require.NoError(t, res.Err, path)
		assert.Len(t, res.Body, limit, path)
	}
	assert.Equal(t, int64(2), f.Stats().TooLarge)
}

func TestHeadHasNoBody(t *testing.T) {
	srv := newServer(t, okHandler("hello"))
	f := newFetcher(t, Options{})
	req, _ := http.NewRequest(http.MethodHead, srv.URL, nil)
	res := f.Do(context.Background(), req)
	require.NoError(t, res.Err)
	assert.Empty(t, res.Body)
	assert.Equal(t, "5", res.Header.Get("Content-Length"))
}

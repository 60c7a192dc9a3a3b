package fetch

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slotsInUse returns the global slots held, and whether key's host slot
// (PerHost 1 in these tests) is held.
func slotsInUse(t *testing.T, f *Fetcher, key string) (global int64, host bool) {
	t.Helper()
	release, ok := f.hosts.TryAcquire(key)
	if ok {
		release()
	}
	return f.global.Stats().InUse, !ok
}

func keyOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return hostKey(u)
}

// opener is a way to get a response whose body streams: Open, or an
// http.Client built on the Transport.
type opener struct {
	name string
	open func(f *Fetcher, rawURL string) (*http.Response, error)
}

var openers = []opener{
	{"Open", func(f *Fetcher, rawURL string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, err
		}
		return f.Open(context.Background(), req)
	}},
	{"Client", func(f *Fetcher, rawURL string) (*http.Response, error) { return f.Client().Get(rawURL) }},
}

// A streamed body keeps its host slot and a global slot until it is
// closed, and Close gives them back, also unread.
func TestStreamedBodySlotsReturnOnClose(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			srv := newServer(t, okHandler(strings.Repeat("x", 1000)))
			f := newFetcher(t, Options{Concurrency: 4, PerHost: 1})
			resp, err := o.open(f, srv.URL)
			require.NoError(t, err)
			g, h := slotsInUse(t, f, keyOf(t, srv.URL))
			assert.Equal(t, int64(1), g, "the body holds a global slot")
			assert.True(t, h, "and its host's slot")
			require.NoError(t, resp.Body.Close())
			g, h = slotsInUse(t, f, keyOf(t, srv.URL))
			assert.Zero(t, g, "Close gave the global slot back")
			assert.False(t, h, "and the host's slot")
		})
	}
}

// Reading a streamed body to io.EOF gives its slots back before Close.
func TestStreamedBodySlotsReturnOnEOF(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			srv := newServer(t, okHandler("hello"))
			f := newFetcher(t, Options{PerHost: 1})
			resp, err := o.open(f, srv.URL)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(b))
			g, h := slotsInUse(t, f, keyOf(t, srv.URL))
			assert.Zero(t, g)
			assert.False(t, h)
		})
	}
}

// A body never closed nor read to the end keeps its slots: the next
// request to the host waits, and is sent as soon as the body is closed.
func TestStreamedBodyNeverClosedHoldsItsSlot(t *testing.T) {
	for _, o := range openers {
		t.Run(o.name, func(t *testing.T) {
			srv := newServer(t, okHandler("hello"))
			f := newFetcher(t, Options{PerHost: 1})
			resp, err := o.open(f, srv.URL)
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			r := f.Get(ctx, srv.URL)
			require.ErrorIs(t, r.Err, context.DeadlineExceeded)
			assert.Zero(t, r.Attempts, "the second request waited for the slot the open body holds")
			assert.Equal(t, int64(1), srv.requests.Load())

			require.NoError(t, resp.Body.Close())
			r = f.Get(context.Background(), srv.URL)
			require.NoError(t, r.Err)
			assert.Equal(t, int64(2), srv.requests.Load())
		})
	}
}

// Without Close, the slots come back when the attempt's context ends, at
// AttemptTimeout: there is no finalizer, and nothing is held for ever.
func TestStreamedBodyNeverClosedReleasedAtAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusOK, "hello"), nil
		})
		f := newFetcher(t, Options{Client: client, PerHost: 1, AttemptTimeout: time.Minute})
		req, err := http.NewRequest(http.MethodGet, "http://h/", nil)
		require.NoError(t, err)
		resp, err := f.Open(context.Background(), req)
		require.NoError(t, err)
		time.Sleep(59 * time.Second)
		synctest.Wait()
		g, h := slotsInUse(t, f, "h:80")
		assert.Equal(t, int64(1), g, "held up to AttemptTimeout")
		assert.True(t, h)
		time.Sleep(time.Second)
		synctest.Wait()
		g, h = slotsInUse(t, f, "h:80")
		assert.Zero(t, g, "released when the attempt's context ended")
		assert.False(t, h)
		_ = resp.Body.Close()
	})
}

// Open's body is bounded by MaxBodyBytes: the bytes up to the limit, then
// ErrBodyTooLarge, which gives the slots back; a Content-Length over the
// limit fails Open itself, and so does RoundTrip.
func TestOpenBodyBoundedByMaxBodyBytes(t *testing.T) {
	chunked := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("a", 100))
		w.(http.Flusher).Flush() // no Content-Length
	})
	sized := newServer(t, okHandler(strings.Repeat("b", 100)))
	f := newFetcher(t, Options{MaxBodyBytes: 10, PerHost: 1})

	req, _ := http.NewRequest(http.MethodGet, chunked.URL, nil)
	resp, err := f.Open(context.Background(), req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Equal(t, strings.Repeat("a", 10), string(b), "the bytes up to the limit, no more")
	g, h := slotsInUse(t, f, keyOf(t, chunked.URL))
	assert.Zero(t, g)
	assert.False(t, h)

	req, _ = http.NewRequest(http.MethodGet, sized.URL, nil)
	resp, err = f.Open(context.Background(), req)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Nil(t, resp)
	assert.Equal(t, OutcomeTooLarge, Result{Err: err}.Outcome())

	_, err = f.Client().Get(sized.URL)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Zero(t, f.global.Stats().InUse)
}

// Open reports a non-2xx final status as a *StatusError with its body's
// first bytes, and no response, after the retries.
func TestOpenNon2xxIsStatusError(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "down")
	})
	f := newFetcher(t, Options{Retry: fastRetry(2)})
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := f.Open(context.Background(), req)
	assert.Nil(t, resp)
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusServiceUnavailable, se.Status)
	assert.Equal(t, "down", string(se.Body))
	assert.Equal(t, int64(2), srv.requests.Load())
	assert.Zero(t, f.global.Stats().InUse)
}

// A request whose own context can end (not the one passed to Open) still
// streams its body after Open returned; closing it releases everything.
func TestOpenBodyReadsAfterOpenReturnsWithRequestContext(t *testing.T) {
	srv := newServer(t, okHandler("streamed"))
	f := newFetcher(t, Options{})
	rctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL, nil)
	resp, err := f.Open(context.Background(), req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "streamed", string(b))
	require.NoError(t, resp.Body.Close())
	st := f.Stats()
	assert.Equal(t, int64(1), st.OK)
	assert.Zero(t, st.InFlight)
}

// The retries of the Transport drain and close each earlier response's
// body before the next attempt: all of them go over one connection. The
// last response is returned with its body.
func TestTransportRetryDrainsAndClosesEarlierBody(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, strings.Repeat("busy ", 1000))
			return
		}
		_, _ = io.WriteString(w, "finally")
	})
	f := newFetcher(t, Options{Retry: fastRetry(3), PerHost: 1})
	resp, err := f.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "finally", string(b))
	assert.Equal(t, int64(3), srv.requests.Load())
	assert.Equal(t, int64(1), srv.accepts.Load(), "each retried body was drained: its connection was reused")
	st := f.Stats()
	assert.Equal(t, int64(3), st.Attempts)
	assert.Equal(t, int64(2), st.Retries)
}

// When the retries run out, RoundTrip returns the last response, body
// included, and no error, as net/http would.
func TestTransportReturnsLastResponseWhenRetriesRunOut(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "bad gateway")
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	resp, err := f.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "bad gateway", string(b))
	assert.Equal(t, int64(3), srv.requests.Load())
	assert.Equal(t, int64(1), f.Stats().StatusErrors)
}

// A 404 is a response, not an error, and is not retried.
func TestTransportReturnsNon2xxAsResponse(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	resp, err := f.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, int64(1), srv.requests.Load())
}

// Only requests safe to repeat are retried: a POST is sent once; a POST
// with an Idempotency-Key and a body net/http can recreate (GetBody) is
// retried, sending the whole body each time.
func TestTransportRetriesOnlyRequestsSafeToRepeat(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})
	c := f.Client()

	resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("once"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int64(1), srv.requests.Load(), "a POST is not retried")

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("again"))
	req.Header.Set("Idempotency-Key", "k1")
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, int64(4), srv.requests.Load(), "with an Idempotency-Key it is")
	assert.Equal(t, []string{"once", "again", "again", "again"}, bodies)
}

// RoundTrip returns a redirect unfollowed; the http.Client follows it, and
// each hop is a request of its own (Stats count two).
func TestTransportDoesNotFollowRedirects(t *testing.T) {
	target := newServer(t, okHandler("there"))
	src := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/t", http.StatusFound)
	})
	f := newFetcher(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, src.URL, nil)
	resp, err := f.Transport().RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Same(t, req, resp.Request)
	assert.Zero(t, target.requests.Load(), "the RoundTripper did not follow it")

	resp, err = f.Client().Get(src.URL)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "there", string(b))
	st := f.Stats()
	assert.Equal(t, int64(3), st.Requests)
	assert.Equal(t, int64(3), st.OK, "a redirect returned to the Client is not a failure")
	assert.Zero(t, st.Redirects, "the Client followed it, not the Fetcher")
}

// An http.Client built on the Transport keeps the caps across all its
// callers: 16 concurrent Gets, at most PerHost at the server at once.
func TestTransportHoldsPerHostCap(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 16)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "ok")
	})
	f := newFetcher(t, Options{PerHost: 2})
	c := f.Client()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			resp, err := c.Get(srv.URL)
			if assert.NoError(t, err) {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	<-arrived
	<-arrived // two at the server, the others wait for the host's slots
	close(release)
	wg.Wait()
	assert.Equal(t, int64(16), srv.requests.Load())
	assert.LessOrEqual(t, srv.maxIn.Load(), int64(2))
}

// robots.txt rules apply through the Transport: a disallowed URL fails
// with ErrDisallowed, unsent, and its request body is closed.
func TestTransportAppliesRobots(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			_, _ = io.WriteString(w, "User-agent: *\nDisallow: /private\n")
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	f := newFetcher(t, Options{Robots: true})
	body := &closeTracker{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/private", body)
	_, err := f.Client().Do(req)
	require.ErrorIs(t, err, ErrDisallowed)
	assert.True(t, body.closed.Load(), "RoundTrip closes the body of a request it never sent")
	assert.Equal(t, int64(1), srv.requests.Load(), "only robots.txt")
}

type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

// AllRequests sends each request as given (method, header, body) and
// returns Results in input order, with invalid ones failing at once.
func TestAllRequestsSendsEachRequestInInputOrder(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Tag")+" "+string(b))
	})
	f := newFetcher(t, Options{Concurrency: 3, PerHost: 2})
	var reqs []*http.Request
	for i := range 10 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/"+string(rune('a'+i)), strings.NewReader("body"))
		req.Header.Set("X-Tag", "t")
		reqs = append(reqs, req)
	}
	reqs = append(reqs, nil)
	rs := f.AllRequests(context.Background(), reqs)
	require.Len(t, rs, 11)
	for i, r := range rs[:10] {
		require.NoError(t, r.Err)
		assert.Equal(t, i, r.Index)
		assert.Equal(t, reqs[i].URL.String(), r.URL)
		assert.Equal(t, "POST /"+string(rune('a'+i))+" t body", string(r.Body))
	}
	require.ErrorIs(t, rs[10].Err, ErrInvalidRequest)
	assert.LessOrEqual(t, srv.maxIn.Load(), int64(2))
}

// StreamRequests retries like Stream, pulls lazily, and breaking out of
// the loop stops it: no more requests are pulled and no goroutine is left
// (goleak checks).
func TestStreamRequestsRetriesAndStopsOnBreak(t *testing.T) {
	var hits atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/flaky" && hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	f := newFetcher(t, Options{Concurrency: 2, Retry: fastRetry(3)})
	var pulled atomic.Int64
	reqs := func(yield func(*http.Request) bool) {
		for i := 0; ; i++ {
			path := "/p"
			if i == 0 {
				path = "/flaky"
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			pulled.Add(1)
			if !yield(req) {
				return
			}
		}
	}
	var got []Result
	for r := range f.StreamRequests(context.Background(), reqs) {
		got = append(got, r)
		if len(got) == 5 {
			break
		}
	}
	require.Len(t, got, 5)
	for _, r := range got {
		require.NoError(t, r.Err)
	}
	i := slices.IndexFunc(got, func(r Result) bool { return r.Index == 0 })
	if i >= 0 {
		assert.Equal(t, 2, got[i].Attempts, "the flaky request was retried")
	}
	assert.LessOrEqual(t, pulled.Load(), int64(5+lookaheadFactor*2+2), "pulled lazily, bounded")
}

// A request's own context ends it in a batch too.
func TestAllRequestsHonoursRequestContext(t *testing.T) {
	srv := newServer(t, okHandler("ok"))
	f := newFetcher(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dead, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	live, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	rs := f.AllRequests(context.Background(), []*http.Request{dead, live})
	require.ErrorIs(t, rs[0].Err, context.Canceled)
	require.NoError(t, rs[1].Err)
	assert.Equal(t, int64(1), srv.requests.Load())
}

package sse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// streamHeaders starts a text/event-stream response.
func streamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
}

// headerLog records the Last-Event-ID header of each request.
type headerLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *headerLog) add(r *http.Request) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := r.Header.Get("Last-Event-ID")
	if _, ok := r.Header["Last-Event-Id"]; !ok {
		v = "<none>"
	}
	l.ids = append(l.ids, v)
	return len(l.ids)
}

func (l *headerLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

func TestDialSendsHeadersAndReadsEvents(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "text/event-stream", r.Header.Get("Accept"))
		assert.Equal(t, "no-cache", r.Header.Get("Cache-Control"), "as EventSource sends")
		assert.Equal(t, "secret", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		fmt.Fprint(w, ": keep-alive\n\nevent: greet\nid: 1\ndata: hello\ndata: world\n\n")
	}))
	defer srv.Close()

	d := &Dialer{URL: srv.URL, Header: http.Header{"Authorization": {"secret"}}}
	c, err := d.DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	ev, err := c.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, Event{ID: "1", Event: "greet", Data: "hello\nworld"}, ev)
	assert.Equal(t, "1", d.ResumeID())
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, io.EOF)
	assert.False(t, retry.IsPermanent(err), "a stream that ends is reconnected")
	_, err2 := c.Read(t.Context())
	assert.Equal(t, err, err2, "Read errors are sticky")
}

func TestSeededLastEventIDKeptWhenConnectionCarriesNoID_gosse(t *testing.T) {
	var log headerLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		streamHeaders(w)
		fmt.Fprint(w, "data: no id here\n\n")
	}))
	defer srv.Close()

	d := &Dialer{URL: srv.URL, LastEventID: "41"}
	for range 2 {
		c, err := d.DialConn(t.Context())
		require.NoError(t, err)
		ev, err := c.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "41", ev.ID, "an event without id reports the resumed position")
		_, err = c.Read(t.Context())
		require.ErrorIs(t, err, io.EOF)
		require.NoError(t, c.Close())
	}
	assert.Equal(t, []string{"41", "41"}, log.get(), "the caller's Last-Event-ID is sent on every connection")
}

func TestEmptyIDFieldClearsLastEventID(t *testing.T) {
	var log headerLog
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		streamHeaders(w)
		fmt.Fprint(w, "id\ndata: reset\n\n")
	}))
	defer srv.Close()

	d := &Dialer{URL: srv.URL, LastEventID: "9"}
	for range 2 {
		c, err := d.DialConn(t.Context())
		require.NoError(t, err)
		_, err = c.Read(t.Context())
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	assert.Equal(t, []string{"9", "<none>"}, log.get(), "an empty id field resets the position, as in EventSource")
}

func TestRetryFieldBecomesRetryAfterHint_r3labs(t *testing.T) {
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n > 1 {
			w.WriteHeader(http.StatusBadGateway) // no Retry-After
			return
		}
		streamHeaders(w)
		fmt.Fprint(w, "retry: 2500\ndata: a\n\n")
	}))
	defer srv.Close()

	d := &Dialer{URL: srv.URL}
	c, err := d.DialConn(t.Context())
	require.NoError(t, err)
	ev, err := c.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2500*time.Millisecond, ev.Retry)
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, io.EOF)
	hint, ok := retry.Hint(err)
	require.True(t, ok, "the end of the stream carries the server's retry delay")
	assert.Equal(t, 2500*time.Millisecond, hint)
	assert.Equal(t, 2500*time.Millisecond, d.RetryDelay())
	require.NoError(t, c.Close())

	_, err = d.DialConn(t.Context())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusBadGateway, se.Status)
	assert.False(t, retry.IsPermanent(err))
	hint, ok = retry.Hint(err)
	require.True(t, ok, "later failed dials keep the server's delay")
	assert.Equal(t, 2500*time.Millisecond, hint)
}

func TestDialStatusClassification(t *testing.T) {
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		is        error
		status    int
		permanent bool
		hint      time.Duration
	}{
		{"204 stops", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			ErrNoContent, 0, true, 0},
		{"404 permanent", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			nil, 404, true, 0},
		{"401 permanent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
			nil, 401, true, 0},
		{"500 retryable", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			nil, 500, false, 0},
		{"503 retryable with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, nil, 503, false, 7 * time.Second},
		{"429 retryable with Retry-After", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		}, nil, 429, false, 3 * time.Second},
		{"wrong content type permanent", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{}")
		}, ErrContentType, 0, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			require.Error(t, err)
			assert.Equal(t, tc.permanent, retry.IsPermanent(err), "permanent: %v", err)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			if tc.status != 0 {
				var se *StatusError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tc.status, se.Status)
			}
			hint, _ := retry.Hint(err)
			assert.Equal(t, tc.hint, hint)
		})
	}
}

// 501 Not Implemented and 505 HTTP Version Not Supported answer the same on
// every try: like fetch, the Dialer treats them as permanent, not as a 5xx
// worth reconnecting after.
func TestDialNotImplementedAndHTTPVersionNotSupportedArePermanent(t *testing.T) {
	for _, code := range []int{http.StatusNotImplemented, http.StatusHTTPVersionNotSupported} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(code)
			}))
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, code, se.Status)
			assert.False(t, se.Retryable())
			assert.True(t, retry.IsPermanent(err), "a %d is permanent: %v", code, err)
			_, ok := retry.Hint(err)
			assert.False(t, ok, "Retry-After counts only for a retryable status")
		})
	}
}

// Retry-After counts for every retryable status (408, 425, 429, 500, 502,
// 503, 504), not only 429 and 503.
func TestDialRetryAfterHonouredForEveryRetryableStatus(t *testing.T) {
	for _, code := range []int{408, 425, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "6")
				w.WriteHeader(code)
			}))
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.True(t, se.Retryable())
			assert.False(t, retry.IsPermanent(err))
			hint, ok := retry.Hint(err)
			require.True(t, ok, "status %d with Retry-After carries a hint", code)
			assert.Equal(t, 6*time.Second, hint)
		})
	}
}

// StatusError.Body keeps the start of the answer's body as bytes, as
// fetch.StatusError does, at most 512 of them.
func TestStatusErrorBodyIsTheFirst512Bytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, strings.Repeat("x", 2000))
	}))
	defer srv.Close()
	_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, []byte(strings.Repeat("x", 512)), se.Body)
}

func TestDialNetworkErrorRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	_, err := (&Dialer{URL: url}).Dial(t.Context())
	require.Error(t, err)
	assert.False(t, retry.IsPermanent(err))
}

func TestDialHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers until the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := (&Dialer{URL: srv.URL}).Dial(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestHugeEventBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		fmt.Fprint(w, "data: ")
		chunk := []byte(strings.Repeat("x", 4096))
		for r.Context().Err() == nil { // an endless line
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	c, err := (&Dialer{URL: srv.URL, MaxEventBytes: 64 << 10}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, ErrEventTooLarge)
	assert.LessOrEqual(t, cap(c.dec.buf), 64<<10+1)
}

func TestCloseAbortsBlockedReadPromptly_r3labs89(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		<-r.Context().Done() // a silent stream
	}))
	defer srv.Close()

	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		readErr <- err
	}()
	start := time.Now()
	require.NoError(t, c.Close())
	require.ErrorIs(t, <-readErr, ErrClosed)
	assert.Less(t, time.Since(start), time.Second)
	require.NoError(t, c.Close(), "Close is idempotent")
}

func TestReadContextAbortsRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		<-r.Context().Done()
	}))
	defer srv.Close()

	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Read(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestWriteIsReadOnly(t *testing.T) {
	c := &Conn{}
	err := c.Write(t.Context(), Event{Data: "x"})
	require.ErrorIs(t, err, ErrReadOnly)
	assert.True(t, errors.Is(err, ErrReadOnly))
}

// A ctx that ends after its Read returned does not touch the stream: the
// registration kept for the next Read with the same ctx fires only during a
// Read.
func TestReadContextEndingBetweenReadsHasNoEffect(t *testing.T) {
	next := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: two\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()

	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	first, cancel := context.WithCancel(t.Context())
	ev, err := c.Read(first)
	require.NoError(t, err)
	assert.Equal(t, "one", ev.Data)
	cancel() // after its Read returned
	close(next)
	ev, err = c.Read(t.Context())
	require.NoError(t, err, "the first ctx's end must not abort the stream")
	assert.Equal(t, "two", ev.Data)

	// t.Context() stays registered; a ctx that ends during its Read still
	// aborts it.
	again, cancelAgain := context.WithCancel(t.Context())
	stop := time.AfterFunc(20*time.Millisecond, cancelAgain)
	defer stop.Stop()
	_, err = c.Read(again)
	require.ErrorIs(t, err, context.Canceled)
}

// A ctx that ended before the Read aborts it even when the next event is
// already buffered, as websocket.Conn does.
func TestReadWithAnEndedContextFailsEvenWithABufferedEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		fmt.Fprint(w, "data: one\n\ndata: two\n\n") // one write: both arrive together
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	ev, err := c.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, "one", ev.Data)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = c.Read(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, context.Canceled, "the stream stays aborted with the same error")
}

package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// wsServer runs handler for each accepted WebSocket connection. Handlers
// should return when stop is closed; the server is closed at the end of the test.
func wsServer(t *testing.T, handler func(ws *websocket.Conn, r *http.Request, stop <-chan struct{})) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if stopped {
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		wg.Add(1)
		mu.Unlock()
		defer wg.Done()
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(4 << 20)
		handler(ws, r, stop)
	}))
	t.Cleanup(func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		close(stop)
		wg.Wait()
		srv.Close()
	})
	return srv
}

func echoServer(t *testing.T) *httptest.Server {
	return wsServer(t, func(ws *websocket.Conn, _ *http.Request, _ <-chan struct{}) {
		for {
			typ, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			if err := ws.Write(context.Background(), typ, data); err != nil {
				return
			}
		}
	})
}

func TestConnEchoesTextAndBinary(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL, Header: http.Header{"X-Test": {"1"}}}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()

	for _, m := range []Message{
		{Type: Text, Data: []byte(`{"hello":"world"}`)},
		{Type: Binary, Data: []byte{0, 1, 2, 255}},
		{Type: Binary, Data: []byte(strings.Repeat("z", 100_000))}, // grows the read buffer
		{Data: []byte("zero type is text")},
	} {
		require.NoError(t, c.Write(t.Context(), m))
		got, err := c.Read(t.Context())
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	assert.LessOrEqual(t, cap(c.buf), keptReadBuf, "read buffers above 64 KiB are not kept")
	require.NoError(t, c.Close())
}

func TestReadReturnsOwnedData(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Write(t.Context(), Message{Data: []byte("first")}))
	require.NoError(t, c.Write(t.Context(), Message{Data: []byte("second")}))
	a, err := c.Read(t.Context())
	require.NoError(t, err)
	b, err := c.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "first", string(a.Data), "a later Read must not overwrite an earlier message")
	assert.Equal(t, "second", string(b.Data))
}

func TestWriteInvalidType(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	require.ErrorIs(t, c.Write(t.Context(), Message{Type: 7}), ErrMessageType)
	require.NoError(t, c.Write(t.Context(), Message{Data: []byte("still usable")}))
	m, err := c.Read(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "still usable", string(m.Data))
}

func TestReadLimitExceeded(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) {
		_ = ws.Write(context.Background(), websocket.MessageBinary, make([]byte, 2048))
		ws.CloseRead(context.Background())
		<-stop
	})
	c, err := (&Dialer{URL: srv.URL, ReadLimit: 1024}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, ErrMessageTooBig)
	require.ErrorIs(t, err, websocket.ErrMessageTooBig)
}

func TestDefaultReadLimitIsOneMiB(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) {
		_ = ws.Write(context.Background(), websocket.MessageBinary, make([]byte, DefaultReadLimit))
		_ = ws.Write(context.Background(), websocket.MessageBinary, make([]byte, DefaultReadLimit+1))
		ws.CloseRead(context.Background())
		<-stop
	})
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	m, err := c.Read(t.Context())
	require.NoError(t, err)
	assert.Len(t, m.Data, DefaultReadLimit)
	_, err = c.Read(t.Context())
	require.ErrorIs(t, err, ErrMessageTooBig)
}

func TestHandshakeStatusClassification(t *testing.T) {
	cases := []struct {
		status    int
		header    map[string]string
		permanent bool
		hint      time.Duration
	}{
		{200, nil, true, 0}, // an HTML page, not a WebSocket endpoint
		{401, nil, true, 0},
		{403, nil, true, 0},
		{404, nil, true, 0},
		{500, nil, false, 0},
		{502, nil, false, 0},
		{503, map[string]string{"Retry-After": "4"}, false, 4 * time.Second},
		{429, map[string]string{"Retry-After": "2"}, false, 2 * time.Second},
		{429, map[string]string{"Retry-After": "soon"}, false, 0},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.status, he.Status)
			assert.Equal(t, tc.permanent, retry.IsPermanent(err))
			hint, _ := retry.Hint(err)
			assert.Equal(t, tc.hint, hint)
		})
	}
}

// 501 Not Implemented and 505 HTTP Version Not Supported answer the same on
// every try: like fetch, the Dialer treats them as permanent, not as a 5xx
// worth reconnecting after.
func TestHandshakeNotImplementedAndHTTPVersionNotSupportedArePermanent(t *testing.T) {
	for _, code := range []int{http.StatusNotImplemented, http.StatusHTTPVersionNotSupported} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(code)
			}))
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, code, he.Status)
			assert.False(t, he.Retryable())
			assert.True(t, retry.IsPermanent(err), "a %d is permanent: %v", code, err)
			_, ok := retry.Hint(err)
			assert.False(t, ok, "Retry-After counts only for a retryable status")
		})
	}
}

// Retry-After counts for every retryable status (408, 425, 429, 500, 502,
// 503, 504), not only 429 and 503.
func TestHandshakeRetryAfterHonouredForEveryRetryableStatus(t *testing.T) {
	for _, code := range []int{408, 425, 429, 500, 502, 503, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "6")
				w.WriteHeader(code)
			}))
			defer srv.Close()
			_, err := (&Dialer{URL: srv.URL}).Dial(t.Context())
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			assert.True(t, he.Retryable())
			assert.False(t, retry.IsPermanent(err))
			hint, ok := retry.Hint(err)
			require.True(t, ok, "status %d with Retry-After carries a hint", code)
			assert.Equal(t, 6*time.Second, hint)
		})
	}
}

func TestDialNetworkErrorRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	conn, err := (&Dialer{URL: url}).Dial(t.Context())
	require.Error(t, err)
	assert.Nil(t, conn, "a failed Dial returns a nil interface, not a nil *Conn")
	assert.False(t, retry.IsPermanent(err))
	var he *HandshakeError
	assert.False(t, errors.As(err, &he))
}

// Issue 10 item 9: a timeout of the Dialer's own is not the end of the
// caller's context, and must not match context.DeadlineExceeded.
func TestDialHandshakeTimeoutDoesNotMatchDeadlineExceeded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers the handshake
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := (&Dialer{URL: srv.URL, HandshakeTimeout: 50 * time.Millisecond}).Dial(t.Context())
	require.ErrorIs(t, err, ErrHandshakeTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, context.Canceled)
	assert.False(t, retry.IsPermanent(err))
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestCloseBoundedWhenPeerIgnoresCloseFrame_coder(t *testing.T) {
	// The server never reads, so it never answers the close frame; coder's
	// own Close would wait about 10s for it.
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) { <-stop })
	c, err := (&Dialer{URL: srv.URL, CloseTimeout: 100 * time.Millisecond}).DialConn(t.Context())
	require.NoError(t, err)

	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		readErr <- err
	}()
	start := time.Now()
	err = c.Close()
	elapsed := time.Since(start)
	require.ErrorIs(t, err, ErrCloseTimeout)
	assert.Less(t, elapsed, time.Second, "Close took %v", elapsed)
	assert.GreaterOrEqual(t, elapsed, 100*time.Millisecond)
	require.ErrorIs(t, <-readErr, ErrClosed, "Close unblocks a concurrent Read")
	require.ErrorIs(t, c.Close(), ErrCloseTimeout, "Close is idempotent")
	require.ErrorIs(t, c.Write(t.Context(), Message{Data: []byte("x")}), ErrClosed)
}

func TestCloseGracefulWithCooperativePeer(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		readErr <- err
	}()
	require.NoError(t, c.Close())
	err = <-readErr
	require.ErrorIs(t, err, ErrClosed)
}

func TestConcurrentCloseCallsAllReturn(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) { <-stop })
	c, err := (&Dialer{URL: srv.URL, CloseTimeout: 50 * time.Millisecond}).DialConn(t.Context())
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = c.Close() })
	}
	wg.Wait()
	for _, err := range errs {
		assert.ErrorIs(t, err, ErrCloseTimeout)
	}
}

func TestPingAnsweredWhileReading(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		readErr <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, c.Close())
	require.ErrorIs(t, <-readErr, ErrClosed)
}

func TestPingUnansweredByNonReadingPeer(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) { <-stop })
	c, err := (&Dialer{URL: srv.URL, CloseTimeout: 50 * time.Millisecond}).DialConn(t.Context())
	require.NoError(t, err)
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		readErr <- err
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Ping(ctx), context.DeadlineExceeded)
	_ = c.Close()
	<-readErr
}

func TestCloseBoundedWithCallerHTTPClient(t *testing.T) {
	srv := wsServer(t, func(ws *websocket.Conn, _ *http.Request, stop <-chan struct{}) { <-stop })
	d := &Dialer{URL: srv.URL, HTTPClient: &http.Client{Transport: &http.Transport{}}, CloseTimeout: 50 * time.Millisecond}
	c, err := d.DialConn(t.Context())
	require.NoError(t, err)
	require.NotNil(t, c.netConn, "an *http.Transport is copied so the TCP connection can be forced shut")
	start := time.Now()
	require.ErrorIs(t, c.Close(), ErrCloseTimeout)
	assert.Less(t, time.Since(start), time.Second)
}

// A Read whose ctx ends while it waits returns ctx's error and closes the
// connection, as coder/websocket's own Read does.
func TestReadContextEndClosesConnection(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = c.Read(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = c.Read(t.Context())
	require.Error(t, err, "the connection is closed")

	c2, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c2.Close()
	done, cancel2 := context.WithCancel(t.Context())
	cancel2()
	_, err = c2.Read(done)
	require.ErrorIs(t, err, context.Canceled, "a ctx that already ended")
	require.Error(t, c2.Write(t.Context(), Message{Data: []byte("x")}), "closed as well")
}

// The common per-call pattern — ctx, cancel := WithTimeout; Read; cancel() —
// must not close the connection once Read has returned.
func TestReadContextEndedAfterReadKeepsConnection(t *testing.T) {
	srv := echoServer(t)
	c, err := (&Dialer{URL: srv.URL}).DialConn(t.Context())
	require.NoError(t, err)
	defer c.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		require.NoError(t, c.Write(ctx, Message{Data: []byte{byte(i)}}))
		m, err := c.Read(ctx)
		cancel()
		require.NoError(t, err)
		require.Equal(t, []byte{byte(i)}, m.Data)
	}
}

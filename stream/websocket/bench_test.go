package websocket

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/coder/websocket"

	"github.com/sluicego/sluice/stream"
)

// floodServer streams ?n= messages of ?size= bytes as fast as it can, then
// waits for the client to close.
func floodServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		done := ws.CloseRead(context.Background())
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = 'a' + byte(i%26)
		}
		for range n {
			if err := ws.Write(context.Background(), websocket.MessageBinary, payload); err != nil {
				return
			}
		}
		<-done.Done()
	}))
	b.Cleanup(srv.Close)
	return srv
}

func floodURL(srv *httptest.Server, n, size int) string {
	return srv.URL + "?n=" + strconv.Itoa(n) + "&size=" + strconv.Itoa(size)
}

func benchClient(b *testing.B, size int) {
	srv := floodServer(b)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	c, err := stream.New[Message](&Dialer{URL: floodURL(srv, b.N, size)}, stream.Options[Message]{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	n := 0
	b.ResetTimer()
	err = c.Run(ctx, func(_ context.Context, m Message) error {
		if len(m.Data) != size {
			b.Fatalf("got %d bytes", len(m.Data))
		}
		if n++; n == b.N {
			cancel()
		}
		return nil
	})
	b.StopTimer()
	if n != b.N {
		b.Fatalf("received %d of %d messages: %v", n, b.N, err)
	}
}

func benchRaw(b *testing.B, size int) {
	srv := floodServer(b)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	b.ResetTimer()
	ws, _, err := websocket.Dial(ctx, floodURL(srv, b.N, size), nil)
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(DefaultReadLimit)
	for range b.N {
		_, data, err := ws.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(data) != size {
			b.Fatalf("got %d bytes", len(data))
		}
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	b.StopTimer()
}

// BenchmarkClientWebSocket128 measures messages/s through stream.Client and
// this package; BenchmarkRawWebSocket128 is a bare coder/websocket read loop
// on the same kind of server. ns/op is per message.
func BenchmarkClientWebSocket128(b *testing.B) { benchClient(b, 128) }
func BenchmarkRawWebSocket128(b *testing.B)    { benchRaw(b, 128) }
func BenchmarkClientWebSocket4K(b *testing.B)  { benchClient(b, 4<<10) }
func BenchmarkRawWebSocket4K(b *testing.B)     { benchRaw(b, 4<<10) }

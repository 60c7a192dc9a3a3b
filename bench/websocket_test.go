package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sluicego/sluice/stream"
	sws "github.com/sluicego/sluice/stream/websocket"
)

// floodServer streams ?n= binary messages of ?size= bytes as fast as it can,
// then waits for the client to close.
func floodServer(tb testing.TB) *httptest.Server {
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
		for range n {
			if err := ws.Write(context.Background(), websocket.MessageBinary, payload); err != nil {
				return
			}
		}
		<-done.Done()
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// BenchmarkWebSocket compares messages received per second: sluice's
// stream.Client over stream/websocket (handler called in order, liveness on)
// against a bare coder/websocket read loop, against the same loopback server.
// ns/op is per message. The -handler cases spend that much CPU per message
// in the handler (and in the raw loop's body), as real consumers do.
func BenchmarkWebSocket(b *testing.B) {
	for _, c := range []struct {
		size int
		work time.Duration
	}{{128, 0}, {4 << 10, 0}, {128, 2 * time.Microsecond}} {
		size, work := c.size, c.work
		label := fmt.Sprintf("%dB", size)
		if size >= 1024 {
			label = fmt.Sprintf("%dKiB", size>>10)
		}
		if work > 0 {
			label += "-" + strings.ReplaceAll(work.String(), "µ", "u") + "-handler"
		}
		b.Run(label+"/sluice", func(b *testing.B) {
			srv := floodServer(b)
			url := srv.URL + "?n=" + strconv.Itoa(b.N) + "&size=" + strconv.Itoa(size)
			c, err := stream.New[sws.Message](&sws.Dialer{URL: url}, stream.Options[sws.Message]{})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			defer cancel()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			n := 0
			err = c.Run(ctx, func(_ context.Context, m sws.Message) error {
				spin(work)
				if n++; n == b.N {
					cancel()
				}
				return nil
			})
			b.StopTimer()
			if n != b.N {
				b.Fatalf("received %d of %d messages: %v", n, b.N, err)
			}
		})
		b.Run(label+"/raw-coder", func(b *testing.B) { benchRawCoder(b, size, work, true) })
		// The same loop reading with context.Background(): coder then skips
		// its per-frame context watcher, and the loop runs as lean as the
		// Client's. Shown for the explanation in the README, not a target.
		b.Run(label+"/raw-coder-background-ctx", func(b *testing.B) { benchRawCoder(b, size, work, false) })
	}
}

// benchRawCoder is a bare coder/websocket read loop; withCtx makes it read
// with a cancellable context, as most code does.
func benchRawCoder(b *testing.B, size int, work time.Duration, withCtx bool) {
	srv := floodServer(b)
	url := srv.URL + "?n=" + strconv.Itoa(b.N) + "&size=" + strconv.Itoa(size)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	ws.SetReadLimit(sws.DefaultReadLimit)
	readCtx := context.Background()
	if withCtx {
		readCtx = ctx
	}
	for range b.N {
		if _, _, err := ws.Read(readCtx); err != nil {
			b.Fatal(err)
		}
		spin(work)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
	b.StopTimer()
}

// spin burns about d of CPU, standing in for a handler's work.
func spin(d time.Duration) {
	if d <= 0 {
		return
	}
	for start := time.Now(); time.Since(start) < d; {
	}
}

package sse

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkConnRead reads b.N small events from a local server with the
// same ctx, as a stream.Client does.
func BenchmarkConnRead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamHeaders(w)
		bw := bufio.NewWriterSize(w, 32<<10)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(bw, "id: %d\ndata: payload-%d\n\n", i, i); err != nil {
				return
			}
			if i%64 == 0 {
				if bw.Flush() != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer srv.Close()
	c, err := (&Dialer{URL: srv.URL}).DialConn(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := b.Context()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

package websocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/coder/websocket"

	wsstream "github.com/sluicego/sluice/stream/websocket"
)

// A Conn can be used on its own, without a stream.Client: DialConn opens
// one connection, here to a local echo server, and the caller reads and
// writes whole messages on it.
func ExampleConn() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		typ, data, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		_ = ws.Write(r.Context(), typ, append([]byte("echo: "), data...))
		_, _, _ = ws.Read(r.Context()) // answers the client's close frame
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := &wsstream.Dialer{URL: srv.URL}
	conn, err := d.DialConn(ctx)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer conn.Close() // close handshake, bounded by Dialer.CloseTimeout

	if err := conn.Write(ctx, wsstream.Message{Type: wsstream.Text, Data: []byte("hello")}); err != nil {
		fmt.Println("write:", err)
		return
	}
	m, err := conn.Read(ctx)
	if err != nil {
		fmt.Println("read:", err)
		return
	}
	fmt.Printf("%s message: %s\n", m.Type, m.Data)
	// Output: text message: echo: hello
}

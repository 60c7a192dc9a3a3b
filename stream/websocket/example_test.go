package websocket_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/coder/websocket"

	"github.com/sluicego/sluice/stream"
	wsstream "github.com/sluicego/sluice/stream/websocket"
)

// A Client on a WebSocket Dialer subscribes on every (re)connection and
// handles messages in order until its context ends.
func ExampleDialer() {
	// A local server: it waits for a subscription, then publishes two prices.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_, sub, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		done := ws.CloseRead(context.Background())
		for _, price := range []string{"101.5", "101.7"} {
			_ = ws.Write(context.Background(), websocket.MessageText, []byte(string(sub)+": "+price))
		}
		<-done.Done()
	}))
	defer srv.Close()

	d := &wsstream.Dialer{URL: srv.URL} // ws:// or http:// URLs both work
	c, err := stream.New[wsstream.Message](d, stream.Options[wsstream.Message]{
		OnConnect: func(ctx context.Context, s stream.Sender[wsstream.Message]) error {
			return s.Send(ctx, wsstream.Message{Type: wsstream.Text, Data: []byte("ABC")})
		},
	})
	if err != nil {
		panic(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := 0
	err = c.Run(ctx, func(_ context.Context, m wsstream.Message) error {
		fmt.Printf("%s message: %s\n", m.Type, m.Data)
		if received++; received == 2 {
			cancel() // done: Run closes the connection and returns
		}
		return nil
	})
	fmt.Println("Run:", err)
	// Output:
	// text message: ABC: 101.5
	// text message: ABC: 101.7
	// Run: context canceled
}

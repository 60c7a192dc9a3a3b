package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sluicego/sluice/stream"
)

// sliceConn is a tiny in-memory Conn that serves fixed messages, then
// blocks until closed: a stand-in for a real transport.
type sliceConn struct {
	msgs   []string
	closed chan struct{}
}

func (c *sliceConn) Read(ctx context.Context) (string, error) {
	if len(c.msgs) > 0 {
		m := c.msgs[0]
		c.msgs = c.msgs[1:]
		return m, nil
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.closed:
		return "", io.EOF
	}
}

func (c *sliceConn) Write(_ context.Context, m string) error {
	fmt.Println("sent:", m)
	return nil
}

func (c *sliceConn) Close() error { return nil }

func ExampleClient() {
	// A real program would use stream/websocket or stream/sse here.
	dial := stream.DialFunc[string](func(ctx context.Context) (stream.Conn[string], error) {
		return &sliceConn{msgs: []string{"hello", "world", "bye"}, closed: make(chan struct{})}, nil
	})
	c, err := stream.New(dial, stream.Options[string]{
		OnConnect: func(ctx context.Context, s stream.Sender[string]) error {
			return s.Send(ctx, "subscribe") // runs again after every reconnect
		},
	})
	if err != nil {
		panic(err)
	}
	errBye := errors.New("server said bye")
	err = c.Run(context.Background(), func(ctx context.Context, m string) error {
		fmt.Println("got:", m)
		if m == "bye" {
			return errBye // a handler error ends Run
		}
		return nil
	})
	fmt.Println("Run returned:", err)
	st := c.Stats()
	fmt.Println("dials:", st.Dials, "in:", st.MessagesIn, "out:", st.MessagesOut)
	// Output:
	// sent: subscribe
	// got: hello
	// got: world
	// got: bye
	// Run returned: server said bye
	// dials: 1 in: 3 out: 1
}

func ExampleClient_Send() {
	dial := stream.DialFunc[string](func(ctx context.Context) (stream.Conn[string], error) {
		return &sliceConn{msgs: []string{"ready"}, closed: make(chan struct{})}, nil
	})
	c, err := stream.New(dial, stream.Options[string]{SendBuffer: 8})
	if err != nil {
		panic(err)
	}
	// Before Run has connected, Send queues; the queue is flushed in order
	// right after the connection is up.
	_ = c.Send(context.Background(), "queued while offline")
	errDone := errors.New("done")
	err = c.Run(context.Background(), func(ctx context.Context, m string) error {
		_ = c.Send(ctx, "reply to "+m) // connected: written at once
		return errDone
	})
	fmt.Println(err)
	fmt.Println(c.Send(context.Background(), "too late"))
	// Output:
	// sent: queued while offline
	// sent: reply to ready
	// done
	// stream: client closed
}

package stream_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/sluicego/sluice/stream"
)

var errBenchDone = errors.New("done")

// feed pushes n messages into c from a goroutine, as a server would.
func feed(c *fakeConn, n int) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			if !c.Push("message") {
				return
			}
		}
	}()
	return done
}

// BenchmarkClientInMemory measures messages/s through Client.Run (Read and
// handler call inline on Run's goroutine, liveness bookkeeping when on)
// over the in-memory conn.
func BenchmarkClientInMemory(b *testing.B) {
	for _, liveness := range []bool{false, true} {
		name := "liveness=off"
		o := stream.Options[string]{Heartbeat: -1}
		if liveness {
			name = "liveness=on"
			o = stream.Options[string]{IdleTimeout: 1 << 40}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			s := newFakeServer()
			var fed chan struct{}
			s.onAccept = func(c *fakeConn) { fed = feed(c, b.N) }
			c, err := stream.New[string](s, o)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			b.ResetTimer()
			err = c.Run(context.Background(), func(context.Context, string) error {
				n++
				if n == b.N {
					return errBenchDone
				}
				return nil
			})
			b.StopTimer()
			<-fed
			if !errors.Is(err, errBenchDone) {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkRawLoopInMemory is the baseline: a plain Read loop calling the
// handler over the same in-memory conn, with no reconnection or liveness.
func BenchmarkRawLoopInMemory(b *testing.B) {
	b.ReportAllocs()
	s := newFakeServer()
	conn := newFakeConn(s)
	s.open.Add(1)
	fed := feed(conn, b.N)
	handler := func(context.Context, string) error { return nil }
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		m, err := conn.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := handler(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	<-fed
	_ = conn.Close()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSend measures Send on a connected Client.
func BenchmarkSend(b *testing.B) {
	b.ReportAllocs()
	s := newFakeServer()
	accepted := make(chan *fakeConn, 1)
	s.onAccept = func(c *fakeConn) { accepted <- c }
	c, err := stream.New[string](s, stream.Options[string]{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := startRun(ctx, c, func(context.Context, string) error { return nil })
	conn := <-accepted
	for c.Stats().State != stream.StateConnected {
		// Connected is set right after the connection is published.
		select {
		case <-r.done:
			b.Fatal(r.err)
		default:
			runtime.Gosched()
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-conn.toServer:
			case <-conn.closed:
				return
			}
		}
	}()
	b.ResetTimer()
	for range b.N {
		if err := c.Send(ctx, "m"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = r.stop()
	<-drained
}

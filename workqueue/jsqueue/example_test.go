package jsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// Example runs a queue on an embedded nats-server: a producer submits three
// jobs, one of them twice, and a worker runs each once; the job that fails
// with a permanent error reaches the dead-letter stream.
func Example() {
	dir, _ := os.MkdirTemp("", "jsqueue-example")
	defer os.RemoveAll(dir)
	srv, _ := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	srv.Start()
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		panic("nats-server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()

	cfg := jsqueue.Config{Stream: "EMAILS", AckWait: 5 * time.Second}
	if err := jsqueue.Provision(ctx, js, cfg); err != nil {
		panic(err)
	}
	type email struct{ ID, To string }
	p, _ := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[email]{
		Key: func(e email) string { return "email-" + e.ID },
	})
	for _, e := range []email{{"1", "ann"}, {"2", "bob"}, {"1", "ann"}, {"3", "nobody"}} {
		if err := p.Submit(ctx, e); err != nil {
			panic(err)
		}
	}
	fmt.Printf("stored %d, duplicates %d\n", p.Stats().Published, p.Stats().Duplicates)

	done := make(chan struct{}, 3)
	w, err := jsqueue.New(ctx, js, cfg, func(ctx context.Context, e email) error {
		d, _ := jsqueue.DeliveryOf(ctx)
		if e.To == "nobody" {
			return retry.Permanent(errors.New("no such mailbox")) // dead-letter at once
		}
		fmt.Printf("sending %s to %s (attempt %d)\n", d.ID, e.To, d.Attempt)
		return nil
	}, jsqueue.Options[email]{
		Workers:  1,
		Prefetch: -1,
		OnResult: func(r jsqueue.Result[email]) { done <- struct{}{} },
	})
	if err != nil {
		panic(err)
	}
	for range 3 {
		<-done
	}
	if err := w.Shutdown(ctx); err != nil {
		panic(err)
	}
	dlq, _ := js.Stream(ctx, "EMAILS_DLQ")
	info, _ := dlq.Info(ctx)
	fmt.Println("dead letters:", info.State.Msgs)
	// Output:
	// stored 3, duplicates 1
	// sending email-1 to ann (attempt 1)
	// sending email-2 to bob (attempt 1)
	// dead letters: 1
}

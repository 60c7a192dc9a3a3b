// Command wsclient shows a resilient WebSocket consumer built on
// stream.Client: it reconnects with jittered backoff, re-subscribes on every
// connection (OnConnect), sends heartbeat pings to detect a dead peer, reports
// every state change (OnState), and hands each message to a workqueue.Queue
// for heavier processing, so a slow consumer pushes back on the socket instead
// of buffering without bound.
//
// By default it talks to an embedded feed on 127.0.0.1 that sends a tick
// every 50ms, only once subscribed, and ends each connection after 2s, in
// turn: with a close frame, by cutting the TCP connection, and by playing
// dead (only the heartbeat notices that one):
//
//	go run ./examples/wsclient                   # 10s against the embedded feed
//	go run ./examples/wsclient -duration 30s -drop 5s -work 100ms
//	go run ./examples/wsclient -url wss://example.com/feed -subscribe '{"op":"subscribe"}'
//
// It stops after -duration or on Ctrl+C: Run returns, the queue finishes the
// messages it accepted, and the program prints its statistics.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/websocket"
	"github.com/sluicego/sluice/workqueue"
)

type config struct {
	URL       string        // empty: start the embedded feed
	Subscribe string        // sent on every connection
	Duration  time.Duration // how long to run
	Work      time.Duration // simulated processing time per message
	Workers   int
	Grace     time.Duration // how long to let the queue finish at the end
	Heartbeat time.Duration // ping interval; a ping unanswered for as long means a dead peer
	TickEvery time.Duration // embedded feed: interval between ticks
	DropEvery time.Duration // embedded feed: connection lifetime
	Quiet     bool          // do not print state changes
}

type summary struct {
	stream.Stats                // connection counters from the client
	States       map[string]int // state changes seen by OnState
	Accepted     int64          // messages the queue accepted
	Processed    int64          // ... and processed successfully
	Failed       int64          // ... or not: failed, canceled or dropped
	Missed       int64          // ticks of the embedded feed never received
	DeadPeers    int            // connections closed by the heartbeat
}

func main() {
	var cfg config
	flag.StringVar(&cfg.URL, "url", "", "WebSocket URL (ws:// or wss://); empty runs an embedded feed")
	flag.StringVar(&cfg.Subscribe, "subscribe", `{"op":"subscribe","channel":"ticks"}`, "message sent after each connect")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	flag.DurationVar(&cfg.Work, "work", 20*time.Millisecond, "simulated processing time per message")
	flag.IntVar(&cfg.Workers, "workers", 4, "processing workers")
	flag.DurationVar(&cfg.Grace, "grace", 3*time.Second, "how long to let queued messages finish at the end")
	flag.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "ping interval (and pong timeout)")
	flag.DurationVar(&cfg.TickEvery, "tick", 50*time.Millisecond, "embedded feed: time between ticks")
	flag.DurationVar(&cfg.DropEvery, "drop", 2*time.Second, "embedded feed: drop each connection after this long")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wsclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if cfg.Duration <= 0 || cfg.Workers < 1 || cfg.Heartbeat <= 0 {
		return summary{}, errors.New("need -duration > 0, -heartbeat > 0 and -workers >= 1")
	}
	var feed *tickServer
	if cfg.URL == "" {
		var err error
		if feed, err = startTickServer(cfg.TickEvery, cfg.DropEvery); err != nil {
			return summary{}, err
		}
		defer feed.close() // deferred first, so it runs after the client is gone
		cfg.URL = feed.URL
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	// The processing stage: a bounded queue. When it is full, Submit blocks
	// the stream's handler, which stops reading: backpressure reaches the
	// socket and the server instead of memory growing.
	var s summary
	var processed, failed atomic.Int64
	q, err := workqueue.New(func(ctx context.Context, m websocket.Message) error {
		return process(ctx, m, cfg.Work)
	}, workqueue.Options[websocket.Message]{
		Workers:    cfg.Workers,
		Capacity:   64,
		JobTimeout: 5 * time.Second,
		OnDone: func(o workqueue.Outcome[websocket.Message]) {
			if o.Status == workqueue.Succeeded {
				processed.Add(1)
			} else {
				failed.Add(1)
			}
		},
	})
	if err != nil {
		return summary{}, err
	}

	start := time.Now()
	s.States = map[string]int{}
	client, err := stream.New[websocket.Message](
		&websocket.Dialer{
			URL:       cfg.URL,
			ReadLimit: 64 << 10, // refuse absurd messages
		},
		stream.Options[websocket.Message]{
			Backoff:     retry.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second},
			StableAfter: time.Second,       // up this long = healthy: reset the backoff
			Heartbeat:   cfg.Heartbeat,     // ping this often, and redial when a pong
			PingTimeout: cfg.Heartbeat,     // takes longer: the peer is dead or unreachable
			IdleTimeout: 5 * cfg.Heartbeat, // also redial if nothing at all arrives
			OnConnect: func(ctx context.Context, c stream.Sender[websocket.Message]) error {
				// A new connection knows nothing: subscribe again, every time.
				return c.Send(ctx, websocket.Message{Data: []byte(cfg.Subscribe)})
			},
			OnState: func(e stream.StateEvent) { // on Run's goroutine: no locking needed
				s.States[e.State.String()]++
				if errors.Is(e.Err, stream.ErrPingTimeout) || errors.Is(e.Err, stream.ErrIdleTimeout) {
					s.DeadPeers++
				}
				if !cfg.Quiet {
					fmt.Fprintf(out, "%6.2fs  %v\n", time.Since(start).Seconds(), e)
				}
			},
		})
	if err != nil {
		_ = q.Shutdown(context.Background())
		return summary{}, err
	}

	// Run blocks until ctx ends, reconnecting as needed. Its handler runs on
	// Run's goroutine, in order; it only hands the message over.
	runErr := client.Run(ctx, func(ctx context.Context, m websocket.Message) error {
		return q.Submit(ctx, m)
	})
	// Finish what was accepted, for at most Grace, then stop the workers.
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer scancel()
	shutdownErr := q.Shutdown(sctx)

	s.Stats = client.Stats()
	s.Accepted = q.Stats().Submitted
	s.Processed, s.Failed = processed.Load(), failed.Load()
	if feed != nil {
		s.Missed = feed.seq.Load() - int64(s.MessagesIn)
	}
	printSummary(out, &s, time.Since(start))

	if shutdownErr != nil {
		return s, shutdownErr
	}
	if ctx.Err() != nil {
		return s, nil // -duration elapsed or Ctrl+C: the normal end
	}
	return s, runErr // a permanent failure, such as a refused handshake
}

// process stands in for real work: decode, hash, take some time.
func process(ctx context.Context, m websocket.Message, work time.Duration) error {
	var t tick
	if err := json.Unmarshal(m.Data, &t); err != nil && len(m.Data) > 0 && m.Data[0] == '{' {
		return err // malformed JSON: the job fails (this queue has no Retry policy)
	}
	_ = sha256.Sum256(m.Data)
	select {
	case <-time.After(work):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func printSummary(out io.Writer, s *summary, elapsed time.Duration) {
	fmt.Fprintf(out, "\nran %v\n", elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "connections: %d dials, %d connects, %d disconnects\n", s.Dials, s.Connects, s.Disconnects)
	fmt.Fprintf(out, "states:      %d connecting, %d connected, %d disconnected, %d closed\n",
		s.States["connecting"], s.States["connected"], s.States["disconnected"], s.States["closed"])
	fmt.Fprintf(out, "heartbeat:   %d dead peer(s) detected\n", s.DeadPeers)
	fmt.Fprintf(out, "messages:    %d received, %d sent (subscriptions)\n", s.MessagesIn, s.MessagesOut)
	fmt.Fprintf(out, "queue:       %d accepted = %d processed + %d failed/canceled\n", s.Accepted, s.Processed, s.Failed)
	if s.Missed > 0 {
		fmt.Fprintf(out, "feed:        %d ticks published but never received (lost with dropped connections)\n", s.Missed)
	}
}

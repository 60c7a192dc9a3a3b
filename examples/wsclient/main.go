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
// messages it accepted (for at most -grace; the rest are counted canceled,
// never failed), and the program prints its statistics. After Ctrl+C it says
// "interrupted" and exits with status 130; a second Ctrl+C exits at once.
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/websocket"
	"github.com/sluicego/sluice/workqueue"
)

// about opens the -h text.
const about = `wsclient consumes a WebSocket feed with stream.Client: it reconnects with
jittered backoff, re-subscribes on every connection, detects a dead peer with
heartbeat pings, and hands each message to a bounded workqueue, so a slow
consumer pushes back on the socket. Without -url it talks to an embedded local
feed that ends each connection after -drop, in turn with a close frame, a
reset and silence. It prints every state change (with the reason for a
disconnect), a progress line now and then, and at the end: dials, connects and
disconnects, dead peers found by the heartbeat, messages received and sent,
and the queue's account (accepted = processed + failed + canceled). It stops
after -duration, or on Ctrl+C, and then says "interrupted".

Exit status: 0 after -duration, 1 on an error (such as a refused handshake),
2 for bad flags, 130 when interrupted (Ctrl+C).`

// Exit statuses, see exitStatus.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, as shells report a Ctrl+C
)

var (
	// errInterrupted is returned by run when its ctx ended (Ctrl+C).
	errInterrupted = errors.New("interrupted")
	// errUsage marks a bad flag or configuration.
	errUsage = errors.New("invalid flags")
)

// exitStatus maps run's error to the program's exit status.
func exitStatus(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errInterrupted):
		return exitInterrupted
	}
	return exitError
}

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
	Progress  time.Duration // interval of progress lines; 0 for none
	Quiet     bool          // do not print state changes
}

type summary struct {
	stream.Stats                // connection counters from the client
	States       map[string]int // state changes seen by OnState
	Accepted     int64          // messages the queue accepted = Processed + Failed + Canceled
	Processed    int64          // ... and processed successfully
	Failed       int64          // ... or failed (malformed, timed out)
	Canceled     int64          // ... or cut short at the end: canceled or dropped, not failed
	Missed       int64          // ticks of the embedded feed never received
	DeadPeers    int            // connections closed by the heartbeat
	Interrupted  bool           // Ctrl+C, rather than -duration, ended the run
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == nil {
		// Ctrl+C cancels ctx; after it, a second Ctrl+C ends the program at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		context.AfterFunc(ctx, stop)
		_, err = run(ctx, cfg, os.Stdout)
		stop()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "wsclient:", err)
	}
	os.Exit(exitStatus(err))
}

// parseFlags reads the command line. It prints the -h text, or the problem
// with a flag, to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("wsclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: wsclient [flags]\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.URL, "url", "", "WebSocket URL (ws:// or wss://); empty runs an embedded feed")
	fs.StringVar(&cfg.Subscribe, "subscribe", `{"op":"subscribe","channel":"ticks"}`, "message sent after each connect")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to run")
	fs.DurationVar(&cfg.Work, "work", 20*time.Millisecond, "simulated processing time per message")
	fs.IntVar(&cfg.Workers, "workers", 4, "processing workers")
	fs.DurationVar(&cfg.Grace, "grace", 3*time.Second, "how long to let queued messages finish at the end")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", time.Second, "ping interval (and pong timeout)")
	fs.DurationVar(&cfg.TickEvery, "tick", 50*time.Millisecond, "embedded feed: time between ticks")
	fs.DurationVar(&cfg.DropEvery, "drop", 2*time.Second, "embedded feed: drop each connection after this long")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of progress lines (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "wsclient:", err)
		return cfg, err
	}
	return cfg, nil
}

func (cfg config) check() error {
	if cfg.Duration <= 0 || cfg.Workers < 1 || cfg.Heartbeat <= 0 {
		return fmt.Errorf("%w: need -duration > 0, -heartbeat > 0 and -workers >= 1", errUsage)
	}
	return nil
}

// run consumes the feed until cfg.Duration has passed or ctx ends, then
// drains the queue for at most cfg.Grace and prints its statistics to out.
// If ctx ended (Ctrl+C) it returns an error matching errInterrupted.
func run(ctx context.Context, cfg config, out io.Writer) (summary, error) {
	if err := cfg.check(); err != nil {
		return summary{}, err
	}
	parent := ctx
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
	var processed, failed, canceled atomic.Int64
	q, err := workqueue.New(func(ctx context.Context, m websocket.Message) error {
		return process(ctx, m, cfg.Work)
	}, workqueue.Options[websocket.Message]{
		Workers:        cfg.Workers,
		Retry:          retry.NoRetry(), // a malformed message stays malformed
		Capacity:       64,
		AttemptTimeout: 5 * time.Second,
		OnResult: func(o workqueue.Result[websocket.Message]) {
			switch o.Outcome {
			case workqueue.OutcomeSucceeded:
				processed.Add(1)
			case workqueue.OutcomeFailed:
				failed.Add(1)
			default: // canceled or dropped by the shutdown at the end: not a failure
				canceled.Add(1)
			}
		},
	})
	if err != nil {
		return summary{}, err
	}

	start := time.Now()
	s.States = map[string]int{}
	var mu sync.Mutex // serialises writes to out
	client, err := stream.New[websocket.Message](
		&websocket.Dialer{
			URL:       cfg.URL,
			ReadLimit: 64 << 10, // refuse absurd messages
		},
		stream.Options[websocket.Message]{
			Backoff:     retry.Schedule{Initial: 100 * time.Millisecond, Max: 5 * time.Second},
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
					mu.Lock()
					fmt.Fprintf(out, "%6.2fs  %s\n", time.Since(start).Seconds(), describe(e))
					mu.Unlock()
				}
			},
		})
	if err != nil {
		_ = q.Shutdown(context.Background())
		return summary{}, err
	}

	stopProgress := progress(cfg.Progress, func() {
		st, qs := client.Stats(), q.Stats()
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%6.2fs  received %d, queued %d, processed %d, failed %d\n",
			time.Since(start).Seconds(), st.MessagesIn, qs.Queued, processed.Load(), failed.Load())
	})
	// Run blocks until ctx ends, reconnecting as needed. Its handler runs on
	// Run's goroutine, in order; it only hands the message over.
	runErr := client.Run(ctx, func(ctx context.Context, m websocket.Message) error {
		return q.Submit(ctx, m)
	})
	s.Interrupted = parent.Err() != nil
	if s.Interrupted {
		mu.Lock()
		fmt.Fprintf(out, "interrupted: letting queued messages finish for up to %v\n", cfg.Grace)
		mu.Unlock()
	}
	// Finish what was accepted, for at most Grace, then stop the workers.
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer scancel()
	shutdownErr := q.Shutdown(sctx)
	stopProgress()

	s.Stats = client.Stats()
	s.Accepted = q.Stats().Submitted
	s.Processed, s.Failed, s.Canceled = processed.Load(), failed.Load(), canceled.Load()
	if feed != nil {
		s.Missed = feed.seq.Load() - s.MessagesIn
	}
	printSummary(out, &s, time.Since(start))

	switch {
	case s.Accepted != s.Processed+s.Failed+s.Canceled:
		return s, fmt.Errorf("messages do not add up: %d accepted, %d processed + %d failed + %d canceled",
			s.Accepted, s.Processed, s.Failed, s.Canceled)
	case s.Interrupted:
		return s, errInterrupted // what the shutdown cut short is counted canceled
	case shutdownErr != nil:
		return s, shutdownErr
	case ctx.Err() != nil:
		return s, nil // -duration elapsed: the normal end
	}
	return s, runErr // a permanent failure, such as a refused handshake
}

// describe formats a state change like StateEvent.String, with the delay
// rounded for people.
func describe(e stream.StateEvent) string {
	s := e.State.String()
	if e.State == stream.StateDisconnected && e.Delay > 0 {
		if e.Attempt > 0 {
			s += fmt.Sprintf(" (attempt %d, retry in %v)", e.Attempt, e.Delay.Round(time.Millisecond))
		} else {
			s += fmt.Sprintf(" (retry in %v)", e.Delay.Round(time.Millisecond))
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// progress calls report every interval until the returned function is
// called; that function returns once the goroutine has exited.
func progress(every time.Duration, report func()) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report()
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
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
	if s.Interrupted {
		fmt.Fprintf(out, "\ninterrupted after %v\n", elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "\nran %v\n", elapsed.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "connections: %d dials, %d connects, %d disconnects\n", s.Dials, s.Connects, s.Disconnects)
	fmt.Fprintf(out, "states:      %d connecting, %d connected, %d disconnected, %d closed\n",
		s.States["connecting"], s.States["connected"], s.States["disconnected"], s.States["closed"])
	fmt.Fprintf(out, "heartbeat:   %d dead peer(s) detected\n", s.DeadPeers)
	fmt.Fprintf(out, "messages:    %d received, %d sent (subscriptions)\n", s.MessagesIn, s.MessagesOut)
	fmt.Fprintf(out, "queue:       %d accepted (of %d received; the one in hand at the end may be refused) = %d processed + %d failed + %d canceled\n",
		s.Accepted, s.MessagesIn, s.Processed, s.Failed, s.Canceled)
	if s.Missed > 0 {
		fmt.Fprintf(out, "feed:        %d ticks published but never received (sent while disconnected, or still unread at the end)\n", s.Missed)
	}
}

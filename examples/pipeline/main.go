// Command pipeline shows backpressure end to end in a three-stage pipeline:
//
//	fetch (fetch.Stream) → transform (workqueue, 4 workers) → write (workqueue, 1 slow worker) → JSON lines
//
// Every queue is bounded and Submit blocks while it is full. The writer is
// the slowest stage, so its queue fills, transform workers block handing
// records to it, the transform queue fills, the fetch loop blocks handing
// documents to it, and fetch.Stream stops pulling URLs: the source is read
// only as fast as the sink can write, with bounded memory at every step. The
// summary shows how long each producer was blocked and the deepest each
// queue got, and accounts for every URL.
//
//	go run ./examples/pipeline
//	go run ./examples/pipeline -n 1000 -write-delay 1ms -o docs.jsonl
//	go run ./examples/pipeline -urls urls.txt -o docs.jsonl
//
// Press Ctrl+C during a run: fetching stops, the queues get -grace to finish,
// every URL not written by then is counted canceled (never failed), the
// program says "interrupted" and exits with status 130. A second Ctrl+C
// exits at once.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
)

// about opens the -h text.
const about = `pipeline fetches documents, extracts a title and a word count from each
(4 transform workers) and writes them as JSON lines (1 slow writer), the
stages joined by bounded workqueues. The slow writer pushes back through every
stage to the fetcher, so memory stays bounded. Without -urls it reads an
embedded local site. Progress lines show the documents fetched, the depth of
each queue and the records written; the summary accounts for every URL
(written, failed at one stage, or canceled by Ctrl+C) and shows, per queue,
how long its producers were blocked in Submit and the deepest it got. On
Ctrl+C it stops fetching, lets the queues finish for -grace, counts the rest
as canceled (not as failed), and says "interrupted".

Exit status: 0 when every URL went through (failed ones included), 1 on an
error, 2 for bad flags, 130 when interrupted (Ctrl+C).`

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
	N            int           // documents to fetch from the embedded site
	URLs         []string      // or these URLs (-urls FILE)
	Out          string        // JSON lines go here; empty means discard
	Fetchers     int           // concurrent fetches
	Transformers int           // transform workers
	Capacity     int           // of each queue
	WriteDelay   time.Duration // simulated cost of one write (a remote store, fsync...)
	Grace        time.Duration // how long the queues may drain after Ctrl+C
	Progress     time.Duration // interval of progress lines; 0 for none
}

// doc flows from fetch to transform; record from transform to write.
type doc struct {
	Index int
	URL   string
	Body  []byte
}

type record struct {
	Index  int    `json:"index"`
	URL    string `json:"url"`
	Title  string `json:"title"`
	Words  int    `json:"words"`
	SHA256 string `json:"sha256"`
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
		fmt.Fprintln(os.Stderr, "pipeline:", err)
	}
	os.Exit(exitStatus(err))
}

// parseFlags reads the command line, and the -urls file. It prints the -h
// text, or the problem with a flag, to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var urlsFile string
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: pipeline [flags]\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.N, "n", 300, "documents to fetch from the embedded site")
	fs.StringVar(&urlsFile, "urls", "", "file of URLs to fetch instead, one per line")
	fs.StringVar(&cfg.Out, "o", "", "write JSON lines to this file (default: discard)")
	fs.IntVar(&cfg.Fetchers, "fetchers", 8, "concurrent fetches")
	fs.IntVar(&cfg.Transformers, "transformers", 4, "transform workers")
	fs.IntVar(&cfg.Capacity, "capacity", 16, "capacity of each queue")
	fs.DurationVar(&cfg.WriteDelay, "write-delay", 5*time.Millisecond, "simulated cost of one write")
	fs.DurationVar(&cfg.Grace, "grace", 2*time.Second, "how long queued work may finish after Ctrl+C")
	fs.DurationVar(&cfg.Progress, "progress", 250*time.Millisecond, "interval of progress lines (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "pipeline:", err)
		return cfg, err
	}
	if urlsFile != "" {
		var err error
		if cfg.URLs, err = readURLs(urlsFile); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func (cfg config) check() error {
	if cfg.N < 0 || cfg.Fetchers < 1 || cfg.Transformers < 1 || cfg.Capacity < 1 {
		return fmt.Errorf("%w: need -n >= 0 and -fetchers, -transformers and -capacity >= 1", errUsage)
	}
	return nil
}

// run sends every URL through the pipeline and prints a summary that
// accounts for each to out. If ctx ends (Ctrl+C) it stops fetching, lets the
// queues finish for cfg.Grace and returns an error matching errInterrupted.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.URLs == nil {
		src, err := startSite()
		if err != nil {
			return nil, err
		}
		defer src.close()
		for i := range cfg.N {
			cfg.URLs = append(cfg.URLs, fmt.Sprintf("%s/doc/%d", src.URL, i))
		}
	}
	sink, closeSink := io.Discard, func() error { return nil }
	if cfg.Out != "" {
		f, err := os.Create(cfg.Out)
		if err != nil {
			return nil, err
		}
		defer f.Close() // for early returns; closeSink reports the error otherwise
		sink, closeSink = f, f.Close
	}
	bw := bufio.NewWriter(sink)
	enc := json.NewEncoder(bw)
	s := &summary{URLs: len(cfg.URLs), FetchFailed: map[string]int{}}

	// Stage 3, write: one worker, so writes never interleave; it is the
	// slow stage that everything upstream ends up waiting for.
	writeQ, err := workqueue.New(func(ctx context.Context, r record) error {
		select {
		case <-time.After(cfg.WriteDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
		return enc.Encode(r)
	}, workqueue.Options[record]{Workers: 1, Capacity: cfg.Capacity, Retry: retry.NoRetry(), OnResult: s.written})
	if err != nil {
		return nil, err
	}
	defer writeQ.Shutdown(context.Background()) // early returns only; see below

	// Stage 2, transform: parse and enrich, then hand over to the writer.
	// Submit blocks while the write queue is full: the worker waits, and so
	// takes no new document, and the transform queue fills in turn.
	toWrite := &gauge{name: "transform → write", producers: cfg.Transformers, capacity: cfg.Capacity}
	transformQ, err := workqueue.New(func(ctx context.Context, d doc) error {
		r, err := transform(d)
		if err != nil {
			return err // a bad document: no retry can fix it, it is dead-lettered
		}
		return submit(ctx, writeQ, toWrite, r)
	}, workqueue.Options[doc]{Workers: cfg.Transformers, Capacity: cfg.Capacity, Retry: retry.NoRetry(), OnResult: s.transformed})
	if err != nil {
		return nil, err
	}
	defer transformQ.Shutdown(context.Background())

	// Stage 1, fetch: Stream pulls URLs lazily and keeps at most Fetchers
	// in progress. While this loop is blocked in Submit, it pulls no more.
	f, err := fetch.New(fetch.Options{Concurrency: cfg.Fetchers, PerHost: cfg.Fetchers, AttemptTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	defer f.CloseIdleConnections()
	toTransform := &gauge{name: "fetch → transform", producers: 1, capacity: cfg.Capacity}
	stopProgress := progress(ctx, cfg.Progress, out, s, cfg.Capacity, transformQ, writeQ)

	start := time.Now()
	for r := range f.Stream(ctx, slices.Values(cfg.URLs)) {
		s.fetched(r)
		if r.OK() {
			if err := submit(ctx, transformQ, toTransform, doc{Index: r.Index, URL: r.URL, Body: r.Body}); err != nil {
				s.canceled(1) // Ctrl+C while waiting for room
			}
		}
	}
	// Join in pipeline order: once every transform has finished, every
	// record it produced is in the write queue. Wait returns early on Ctrl+C;
	// Shutdown then gives the queues Grace to finish, and what is left after
	// that is canceled or dropped, and counted.
	if transformQ.Wait(ctx) == nil {
		_ = writeQ.Wait(ctx)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Grace)
	defer cancel()
	// A forced shutdown (ErrShutdown) is expected after Ctrl+C: what it cut
	// short is counted canceled. Without Ctrl+C the queues drained first.
	shutdownErr := errors.Join(transformQ.Shutdown(sctx), writeQ.Shutdown(sctx))
	outErr := errors.Join(bw.Flush(), closeSink())
	stopProgress()

	s.Elapsed = time.Since(start)
	s.Gauges = []*gauge{toTransform, toWrite}
	s.Interrupted = ctx.Err() != nil
	s.print(out)
	switch {
	case s.total() != s.URLs:
		return s, fmt.Errorf("outcomes do not add up: %d != %d URLs", s.total(), s.URLs)
	case outErr != nil:
		return s, outErr
	case s.Interrupted:
		return s, errInterrupted
	}
	return s, shutdownErr
}

// transform extracts the title and counts the words of an HTML document.
func transform(d doc) (record, error) {
	body := string(d.Body)
	_, rest, ok1 := strings.Cut(body, "<title>")
	title, _, ok2 := strings.Cut(rest, "</title>")
	if !ok1 || !ok2 {
		return record{}, fmt.Errorf("%s: no <title>", d.URL)
	}
	sum := sha256.Sum256(d.Body)
	return record{Index: d.Index, URL: d.URL, Title: strings.TrimSpace(title),
		Words: len(strings.Fields(body)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// progress prints the queue depths every interval until the returned
// function is called; the function returns once the goroutine has exited.
func progress[A, B any](ctx context.Context, every time.Duration, out io.Writer, s *summary, capacity int,
	a *workqueue.Queue[A], b *workqueue.Queue[B]) func() {
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
				fetched, written := s.progress()
				note := ""
				if ctx.Err() != nil {
					note = "  (interrupted)"
				}
				fmt.Fprintf(out, "fetched %4d/%d  transform queue %2d/%d  write queue %2d/%d  written %4d%s\n",
					fetched, s.URLs, a.Stats().Queued, capacity, b.Stats().Queued, capacity, written, note)
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

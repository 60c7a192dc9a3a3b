// Command scraper shows a polite, bounded, retrying crawler built on one
// fetch.Fetcher: a global concurrency cap, a cap per host (a fragile host
// gets a smaller one, with fetch.Options.HostLimits), a timeout per attempt,
// retries of transient failures only (503 with Retry-After honoured, resets,
// timeouts; never 404), live progress, and a summary in which ok + failed +
// canceled always equals the pages asked for.
//
// By default it fetches 200 pages from two embedded sites on 127.0.0.1, "www"
// (cap 8) and "api" (cap 2, slower), which answer with a spread of latencies,
// 404s, 503s with Retry-After, connection resets and a stall; www's
// robots.txt disallows two of the pages:
//
//	go run ./examples/scraper
//	go run ./examples/scraper -n 500 -o results.jsonl
//	go run ./examples/scraper -urls urls.txt -per-host 4 -attempt-timeout 10s
//
// With -urls, the file holds one URL per line (blank lines and # comments
// are skipped) and every host gets the -per-host cap.
//
// Press Ctrl+C during a run: requests in flight are canceled, the pages not
// fetched are counted canceled (never failed), the program says
// "interrupted" and exits with status 130. A second Ctrl+C exits at once.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
)

// about opens the -h text.
const about = `scraper fetches a list of pages politely with one fetch.Fetcher: a cap on
requests in flight overall and per host, a timeout per attempt, retries of
transient failures only (honouring Retry-After), and robots.txt. Without
-urls it crawls two embedded local sites that answer with a spread of
latencies and faults. While it runs it prints progress as [done/pages] (done
counts pages with a final result); at the end a table: pages ok, pages failed
by reason (HTTP status, reset, timeout, robots.txt...), pages canceled, their
total, retries, throughput, p50/p95 time per page (queueing and retries
included) and, for the embedded sites, the most requests each saw at once.
On Ctrl+C it cancels what is in flight, counts the rest as canceled (not as
failed), and says "interrupted".

Exit status: 0 when every page has its result (failed pages included),
1 on an error, 2 for bad flags, 130 when interrupted (Ctrl+C).`

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
	N              int            // pages to fetch from the embedded sites
	URLs           []string       // real URLs instead (-urls FILE)
	Out            string         // write one JSON result per line here
	Concurrency    int            // requests in flight, all hosts together
	PerHost        int            // requests in flight per host
	HostCaps       map[string]int // other caps for some hosts (fetch.Options.HostLimits)
	AttemptTimeout time.Duration  // one attempt's time limit
	Seed           uint64         // embedded sites' faults
	Live           bool           // progress as one rewritten line (a terminal)
	Progress       time.Duration  // how often to report progress
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == nil {
		// A live progress line only makes sense on a terminal, not in a log file.
		if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cfg.Live = true
			cfg.Progress = 100 * time.Millisecond
		}
		// Ctrl+C cancels ctx; after it, a second Ctrl+C ends the program at once.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		context.AfterFunc(ctx, stop)
		_, err = run(ctx, cfg, os.Stdout)
		stop()
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "scraper:", err)
	}
	os.Exit(exitStatus(err))
}

// parseFlags reads the command line, and the -urls file. It prints the -h
// text, or the problem with a flag, to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var urlsFile string
	fs := flag.NewFlagSet("scraper", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage: scraper [flags]\n\nFlags:\n", about)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.N, "n", 200, "pages to fetch from the embedded sites")
	fs.StringVar(&urlsFile, "urls", "", "file of URLs to fetch instead, one per line")
	fs.StringVar(&cfg.Out, "o", "", "write results as JSON lines to this file")
	fs.IntVar(&cfg.Concurrency, "c", 16, "requests in flight, all hosts together")
	fs.IntVar(&cfg.PerHost, "per-host", 8, "requests in flight per host")
	fs.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", time.Second, "time limit of one attempt, from when it is sent")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the embedded sites")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "interval of progress lines when not on a terminal (0: none)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, "scraper:", err)
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
	if cfg.N < 0 || cfg.Concurrency < 1 || cfg.PerHost < 1 || cfg.AttemptTimeout <= 0 {
		return fmt.Errorf("%w: need -n >= 0, -c >= 1, -per-host >= 1 and -attempt-timeout > 0", errUsage)
	}
	return nil
}

// run fetches the pages and prints a summary that accounts for every one of
// them to out. If ctx ends (Ctrl+C) it cancels the rest, and returns an
// error matching errInterrupted.
func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	parent := ctx
	var sites []*site // the embedded ones, if any
	if cfg.URLs == nil {
		www, err := startSite(cfg.Seed, 1, "User-agent: *\nDisallow: /page/42$\nDisallow: /page/142$\n")
		if err != nil {
			return nil, err
		}
		defer www.close()
		api, err := startSite(cfg.Seed+1, 2, "") // twice as slow, no robots.txt
		if err != nil {
			return nil, err
		}
		defer api.close()
		for i := range cfg.N {
			site := www // seven pages in ten on www, the rest on api
			if i%10 >= 7 {
				site = api
			}
			cfg.URLs = append(cfg.URLs, fmt.Sprintf("%s/page/%d", site.URL, i))
		}
		cfg.HostCaps = map[string]int{hostOf(api.URL): 2} // the fragile one
		sites = []*site{www, api}
	}

	var jsonl *json.Encoder
	var closeOut func() error
	if cfg.Out != "" {
		f, err := os.Create(cfg.Out)
		if err != nil {
			return nil, err
		}
		defer f.Close() // for early returns; closeOut reports the error otherwise
		bw := bufio.NewWriter(f)
		jsonl = json.NewEncoder(bw)
		closeOut = func() error { return errors.Join(bw.Flush(), f.Close()) }
	}

	ctx, cancel := context.WithCancel(ctx) // also canceled if -o fails
	defer cancel()
	var writeErr error
	// One Fetcher for every host: one global cap, one connection pool, one
	// set of Stats. HostLimits gives the fragile hosts smaller caps.
	f, err := fetch.New(fetch.Options{
		Concurrency:    cfg.Concurrency, // all hosts together
		PerHost:        cfg.PerHost,
		HostLimits:     cfg.HostCaps,
		AttemptTimeout: cfg.AttemptTimeout, // from when it is sent; waiting for a slot does not count
		Retry: &retry.Policy{
			MaxAttempts: 3,
			Schedule: retry.Schedule{
				Initial: 100 * time.Millisecond,
				Max:     2 * time.Second,
				MaxHint: 5 * time.Second, // obey Retry-After, up to a point
			},
		},
		MaxBodyBytes: 2 << 20, // a page bigger than 2 MiB is an error, not a memory spike
		UserAgent:    "sluice-scraper-example/1.0 (+https://github.com/sluicego/sluice)",
		Robots:       true, // honour robots.txt and its Crawl-delay
	})
	if err != nil {
		return nil, err
	}
	defer f.CloseIdleConnections() // no keep-alive goroutine outlives run

	// One Stream over every URL, whatever their hosts: it yields results as
	// they complete and keeps memory bounded. A slow host at its cap does not
	// hold up the others: Stream starts a URL only while its host has room.
	// If ctx ends, the rest are yielded as canceled.
	s := newSummary(len(cfg.URLs))
	var tickC <-chan time.Time
	if cfg.Progress > 0 {
		tick := time.NewTicker(cfg.Progress)
		defer tick.Stop()
		tickC = tick.C
	}
	for r := range f.Stream(ctx, slices.Values(cfg.URLs)) {
		s.add(r)
		if jsonl != nil {
			if writeErr = jsonl.Encode(newRecord(r)); writeErr != nil {
				// A full disk is not something to ignore: stop fetching, but
				// keep taking results so every page is accounted for.
				jsonl = nil
				cancel()
			}
		}
		select {
		case <-tickC:
			s.progress(out, cfg.Live)
		default:
		}
	}
	s.Interrupted = parent.Err() != nil
	s.progress(out, cfg.Live)
	if cfg.Live {
		fmt.Fprintln(out) // end the live line
	}
	if sites != nil { // the caps at work, as the servers saw them
		s.MaxInFlight = fmt.Sprintf("www %d (cap %d), api %d (cap %d)",
			sites[0].maxSeen.Load(), cfg.PerHost, sites[1].maxSeen.Load(), cfg.HostCaps[hostOf(sites[1].URL)])
	}
	s.print(out)
	if s.OK+s.failed()+s.Canceled != s.Total {
		return s, fmt.Errorf("results do not add up: %d ok + %d failed + %d canceled != %d",
			s.OK, s.failed(), s.Canceled, s.Total)
	}
	if closeOut != nil && writeErr == nil {
		writeErr = closeOut()
	}
	switch {
	case writeErr != nil:
		return s, writeErr
	case s.Interrupted:
		return s, errInterrupted
	}
	return s, nil
}

// record is one line of -o output.
type record struct {
	URL        string  `json:"url"`
	Status     int     `json:"status,omitempty"`
	Attempts   int     `json:"attempts"`
	DurationMS float64 `json:"duration_ms"`
	Bytes      int     `json:"bytes"`
	Reason     string  `json:"reason"`
	Error      string  `json:"error,omitempty"`
}

func newRecord(r fetch.Result) record {
	rec := record{URL: r.URL, Status: r.Status, Attempts: r.Attempts, Bytes: len(r.Body),
		DurationMS: float64(r.Duration.Microseconds()) / 1000, Reason: reason(r)}
	if r.Err != nil {
		rec.Error = r.Err.Error()
	}
	return rec
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

func readURLs(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	urls := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			urls = append(urls, line)
		}
	}
	return urls, sc.Err()
}

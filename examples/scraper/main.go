// Command scraper shows a polite, bounded, retrying crawler built on one
// fetch.Fetcher: a global concurrency cap, a cap per host (a fragile host
// gets a smaller one, with fetch.Options.HostLimits), a timeout per attempt, retries of transient failures
// only (503 with Retry-After honoured, resets, timeouts; never 404), live
// progress, and a summary in which ok + failed always equals the pages asked
// for, even after Ctrl+C.
//
// By default it fetches 200 pages from two embedded sites on 127.0.0.1, "www"
// (cap 8) and "api" (cap 2, slower), which answer with a spread of latencies,
// 404s, 503s with Retry-After, connection resets and a stall; www's
// robots.txt disallows two of the pages:
//
//	go run ./examples/scraper
//	go run ./examples/scraper -n 500 -o results.jsonl
//	go run ./examples/scraper -urls urls.txt -per-host 4 -timeout 10s
//
// With -urls, the file holds one URL per line (blank lines and # comments
// are skipped) and every host gets the -per-host cap.
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

type config struct {
	N           int            // pages to fetch from the embedded sites
	URLs        []string       // real URLs instead (-urls FILE)
	Out         string         // write one JSON result per line here
	Concurrency int            // requests in flight, all hosts together
	PerHost     int            // requests in flight per host
	HostCaps    map[string]int // other caps for some hosts (fetch.Options.HostLimits)
	Timeout     time.Duration  // per attempt
	Seed        uint64         // embedded sites' faults
	Live        bool           // progress as one rewritten line (a terminal)
	Progress    time.Duration  // how often to report progress
}

func main() {
	var cfg config
	var urlsFile string
	flag.IntVar(&cfg.N, "n", 200, "pages to fetch from the embedded sites")
	flag.StringVar(&urlsFile, "urls", "", "file of URLs to fetch instead, one per line")
	flag.StringVar(&cfg.Out, "o", "", "write results as JSON lines to this file")
	flag.IntVar(&cfg.Concurrency, "c", 16, "requests in flight, all hosts together")
	flag.IntVar(&cfg.PerHost, "per-host", 8, "requests in flight per host")
	flag.DurationVar(&cfg.Timeout, "timeout", time.Second, "timeout of one attempt")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the embedded sites")
	flag.Parse()
	if urlsFile != "" {
		var err error
		if cfg.URLs, err = readURLs(urlsFile); err != nil {
			fmt.Fprintln(os.Stderr, "scraper:", err)
			os.Exit(2)
		}
	}
	// A live progress line only makes sense on a terminal, not in a log file.
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cfg.Live = true
	}
	cfg.Progress = time.Second
	if cfg.Live {
		cfg.Progress = 100 * time.Millisecond
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scraper:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer) (*summary, error) {
	if cfg.Concurrency < 1 || cfg.PerHost < 1 || cfg.Timeout <= 0 {
		return nil, errors.New("need -c >= 1, -per-host >= 1 and -timeout > 0")
	}
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
		Concurrency: cfg.Concurrency, // all hosts together
		PerHost:     cfg.PerHost,
		HostLimits:  cfg.HostCaps,
		Timeout:     cfg.Timeout, // per attempt; waiting for a slot does not count
		Retry: &retry.Policy{
			MaxAttempts: 3,
			Initial:     100 * time.Millisecond,
			Max:         2 * time.Second,
			MaxHint:     5 * time.Second, // obey Retry-After, up to a point
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
	tick := time.NewTicker(cfg.Progress)
	defer tick.Stop()
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
		case <-tick.C:
			s.progress(out, cfg.Live)
		default:
		}
	}
	s.progress(out, cfg.Live)
	if cfg.Live {
		fmt.Fprintln(out) // end the live line
	}
	if sites != nil { // the caps at work, as the servers saw them
		s.MaxInFlight = fmt.Sprintf("www %d (cap %d), api %d (cap %d)",
			sites[0].maxSeen.Load(), cfg.PerHost, sites[1].maxSeen.Load(), cfg.HostCaps[hostOf(sites[1].URL)])
	}
	s.print(out)
	if s.OK+s.failed() != s.Total {
		return s, fmt.Errorf("results do not add up: %d ok + %d failed != %d", s.OK, s.failed(), s.Total)
	}
	if closeOut != nil && writeErr == nil {
		writeErr = closeOut()
	}
	if writeErr != nil {
		return s, writeErr
	}
	return s, ctx.Err()
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

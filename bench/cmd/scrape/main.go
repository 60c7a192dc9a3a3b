// Command scrape is sluice's side of the Scraper benchmark: it GETs every URL
// read from stdin (one a line) with one fetch.Fetcher, Concurrency and
// PerHost -c, default options otherwise (3 attempts, Retry-After honoured,
// full-jitter backoff from 200ms, 30s per attempt), reads every body, and
// prints the outcomes counted by category as one JSON object, the same
// categories as ../../tutorial/scraper.py:
//
//	ok          a 2xx response, body read
//	http-<NNN>  the final response's status was NNN (after any retries)
//	timeout     the last attempt timed out
//	conn-error  the last attempt failed on the connection (reset, refused, EOF)
//	other       anything else (printed to stderr)
//
// It runs as a child process of the benchmark, so that its CPU time and peak
// RSS are measured the same way as the Python script's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/sluicego/sluice/fetch"
)

func main() {
	c := flag.Int("c", 64, "concurrency")
	flag.Parse()
	var urls []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() != "" {
			urls = append(urls, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "scrape:", err)
		os.Exit(2)
	}
	f, err := fetch.New(fetch.Options{Concurrency: *c, PerHost: *c})
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrape:", err)
		os.Exit(2)
	}
	counts := map[string]int{}
	for _, r := range f.All(context.Background(), urls) {
		counts[category(r)]++
	}
	if err := json.NewEncoder(os.Stdout).Encode(counts); err != nil {
		os.Exit(2)
	}
}

func category(r fetch.Result) string {
	var se *fetch.StatusError
	var ne net.Error
	switch {
	case r.Err == nil:
		return "ok"
	case errors.As(r.Err, &se):
		return fmt.Sprintf("http-%d", se.Status)
	case errors.Is(r.Err, fetch.ErrAttemptTimeout):
		return "timeout"
	case errors.Is(r.Err, syscall.ECONNRESET), errors.Is(r.Err, syscall.ECONNREFUSED),
		errors.Is(r.Err, io.EOF), errors.Is(r.Err, io.ErrUnexpectedEOF), errors.As(r.Err, &ne):
		return "conn-error"
	}
	fmt.Fprintln(os.Stderr, "scrape:", r.URL, r.Err)
	return "other"
}

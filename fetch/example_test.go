package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
)

// newExampleServer serves /ok/... with a short page and anything else
// with 404.
func newExampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/ok/") {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "page "+strings.TrimPrefix(r.URL.Path, "/ok/"))
	}))
}

func ExampleNew() {
	srv := newExampleServer()
	defer srv.Close()

	f, err := fetch.New(fetch.Options{
		Concurrency: 16,                            // at most 16 requests in flight
		PerHost:     4,                             // at most 4 per host
		Retry:       &retry.Policy{MaxAttempts: 4}, // transient failures: up to 4 attempts
		UserAgent:   "example-bot/1.0 (+https://example.com/bot)",
		Robots:      true, // honour robots.txt
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.CloseIdleConnections()

	res := f.Get(context.Background(), srv.URL+"/ok/1")
	fmt.Println(res.Status, string(res.Body), res.Err)

	_, err = fetch.New(fetch.Options{PerHost: -1})
	fmt.Println(errors.Is(err, fetch.ErrInvalidOptions))
	// Output:
	// 200 page 1 <nil>
	// true
}

func ExampleFetcher_Get() {
	srv := newExampleServer()
	defer srv.Close()
	f, _ := fetch.New(fetch.Options{})
	defer f.CloseIdleConnections()

	res := f.Get(context.Background(), srv.URL+"/missing")
	var se *fetch.StatusError
	if errors.As(res.Err, &se) {
		fmt.Println("status error:", se.Status, res.Attempts, "attempt")
	}
	// Output: status error: 404 1 attempt
}

func ExampleFetcher_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		_, _ = fmt.Fprintf(w, "%s %s, accept %s", r.Method, r.URL.Path, r.Header.Get("Accept"))
	}))
	defer srv.Close()
	f, _ := fetch.New(fetch.Options{})
	defer f.CloseIdleConnections()

	// The request's own context bounds the call, as ctx does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/old", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	req.Header.Set("Accept", "text/plain")

	res := f.Do(context.Background(), req) // the redirect is followed hop by hop
	fmt.Println(res.Status, string(res.Body))
	fmt.Println(strings.TrimPrefix(res.FinalURL, srv.URL), res.Attempts, "attempt", res.Outcome())
	// Output:
	// 200 GET /new, accept text/plain
	// /new 1 attempt ok
}

func ExampleFetcher_All() {
	srv := newExampleServer()
	defer srv.Close()
	f, _ := fetch.New(fetch.Options{Concurrency: 8})
	defer f.CloseIdleConnections()

	urls := []string{srv.URL + "/ok/a", srv.URL + "/nope", srv.URL + "/ok/b"}
	for _, r := range f.All(context.Background(), urls) { // in input order
		if r.Err != nil {
			fmt.Println(r.Index, "error", r.Status)
			continue
		}
		fmt.Println(r.Index, string(r.Body))
	}
	// Output:
	// 0 page a
	// 1 error 404
	// 2 page b
}

func ExampleFetcher_Stream() {
	srv := newExampleServer()
	defer srv.Close()
	f, _ := fetch.New(fetch.Options{Concurrency: 4})
	defer f.CloseIdleConnections()

	urls := []string{srv.URL + "/ok/x", srv.URL + "/ok/y", srv.URL + "/ok/z"}
	var bodies []string
	for r := range f.Stream(context.Background(), slices.Values(urls)) { // as they complete
		if r.Err == nil {
			bodies = append(bodies, string(r.Body))
		}
	}
	sort.Strings(bodies)
	fmt.Println(bodies)
	fmt.Println(f.Stats().OK, "ok")
	// Output:
	// [page x page y page z]
	// 3 ok
}

func ExampleResult_Outcome() {
	srv := newExampleServer()
	defer srv.Close()
	f, _ := fetch.New(fetch.Options{Retry: retry.NoRetry()})
	defer f.CloseIdleConnections()

	byOutcome := map[fetch.Outcome]int{}
	for _, r := range f.All(context.Background(), []string{srv.URL + "/ok/1", srv.URL + "/missing", "not a URL"}) {
		o := r.Outcome() // exactly one category per Result, as Stats counts it
		byOutcome[o]++
		if o == fetch.OutcomeStatusError {
			fmt.Println(o, r.Status) // details from the Result, or errors.As on r.Err
		}
	}
	fmt.Println(byOutcome[fetch.OutcomeOK], byOutcome[fetch.OutcomeInvalid])
	st := f.Stats()
	fmt.Println(st.OK, st.StatusErrors, st.Invalid)
	// Output:
	// status error 404
	// 1 1
	// 1 1 1
}

func ExampleOptions_hostLimits() {
	fragile := newExampleServer()
	defer fragile.Close()
	f, err := fetch.New(fetch.Options{
		Concurrency: 32,
		PerHost:     8, // every host...
		HostLimits: map[string]int{
			strings.TrimPrefix(fragile.URL, "http://"): 1, // ...but this host:port
			"api.example.com":                          2, // and api.example.com on any port
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.CloseIdleConnections()
	res := f.Get(context.Background(), fragile.URL+"/ok/1")
	fmt.Println(res.Outcome(), string(res.Body))

	_, err = fetch.New(fetch.Options{HostLimits: map[string]int{"api.example.com/v1": 2}})
	fmt.Println(errors.Is(err, fetch.ErrInvalidOptions))
	// Output:
	// ok page 1
	// true
}

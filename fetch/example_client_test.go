package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
)

// thirdPartyGetAll stands for a library that knows nothing of sluice: it
// takes an *http.Client and GETs every URL at once, one goroutine each.
func thirdPartyGetAll(client *http.Client, urls []string) []string {
	out := make([]string, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			resp, err := client.Get(u)
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer resp.Body.Close() // gives the Fetcher's slots back
			b, _ := io.ReadAll(resp.Body)
			out[i] = fmt.Sprintf("%d %s", resp.StatusCode, b)
		})
	}
	wg.Wait()
	return out
}

// An http.Client from sluice gives code that only takes an *http.Client the
// Fetcher's caps and retries: the library starts 8 requests at once, the
// server never sees more than PerHost of them, and the 503 with Retry-After
// is retried under the hood.
func ExampleFetcher_Client() {
	var hits, inFlight, maxInFlight atomic.Int64
	var flaky atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		if r.URL.Path == "/item/3" && !flaky.Swap(true) {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable) // once
			return
		}
		time.Sleep(5 * time.Millisecond) // long enough for requests to overlap
		_, _ = io.WriteString(w, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer srv.Close()

	f, err := fetch.New(fetch.Options{
		PerHost: 2,
		Retry:   &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 3},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	client := f.Client()
	defer client.CloseIdleConnections()

	var urls []string
	for i := range 8 {
		urls = append(urls, fmt.Sprintf("%s/item/%d", srv.URL, i))
	}
	for _, line := range thirdPartyGetAll(client, urls) {
		fmt.Println(line)
	}
	fmt.Println("server hits:", hits.Load(), "for", len(urls), "URLs")
	fmt.Println("at most 2 at the server at once:", maxInFlight.Load() <= 2)
	st := f.Stats()
	fmt.Println("retries:", st.Retries, "ok:", st.OK)
	// Output:
	// 200 item/0
	// 200 item/1
	// 200 item/2
	// 200 item/3
	// 200 item/4
	// 200 item/5
	// 200 item/6
	// 200 item/7
	// server hits: 9 for 8 URLs
	// at most 2 at the server at once: true
	// retries: 1 ok: 8
}

// Open streams a large body instead of reading it into Result.Body; closing
// it (or reading it to the end) gives the host's slot back.
func ExampleFetcher_Open() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	f, err := fetch.New(fetch.Options{MaxBodyBytes: 4 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/big", nil)
	resp, err := f.Open(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body) // a file, a hash, a decoder...
	fmt.Println(resp.StatusCode, n, err)
	// Output:
	// 200 1048576 <nil>
}

// AllRequests is All over *http.Request values: any method, header and
// body, results in input order.
func ExampleFetcher_AllRequests() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}))
	defer srv.Close()
	f, err := fetch.New(fetch.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.CloseIdleConnections()

	get, _ := http.NewRequest(http.MethodGet, srv.URL+"/a", nil)
	put, _ := http.NewRequest(http.MethodPut, srv.URL+"/b", strings.NewReader("data"))
	for _, r := range f.AllRequests(context.Background(), []*http.Request{get, put}) {
		fmt.Println(r.Index, string(r.Body), r.Err)
	}
	// Output:
	// 0 GET /a  <nil>
	// 1 PUT /b data <nil>
}

// DenyPrivateNetworks refuses addresses that are not public, such as the
// loopback address of this example's server, before connecting.
func ExampleOptions_denyPrivateNetworks() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "internal admin page")
	}))
	defer srv.Close()
	f, err := fetch.New(fetch.Options{DenyPrivateNetworks: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.CloseIdleConnections()

	r := f.Get(context.Background(), srv.URL+"/admin")
	var fe *fetch.ForbiddenAddressError
	if errors.As(r.Err, &fe) {
		fmt.Printf("%s: %s, attempts: %d\n", r.Outcome(), fe.Addr.Addr(), r.Attempts)
	}
	// Output:
	// forbidden address: 127.0.0.1, attempts: 1
}

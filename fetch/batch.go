package fetch

import (
	"context"
	"iter"
	"net/http"
)

// All fetches every URL with GET and returns their Results in input order,
// one per URL, once all are final. At most [Options.Concurrency] URLs are in
// progress at once, on as many goroutines started by All, which have all
// exited when it returns. If ctx ends, the URLs in progress fail with the
// context's error and the rest fail with it at once, so All returns promptly.
//
// All starts a URL only while fewer of its URLs for the same host are in
// progress than that host's cap ([Options.PerHost] or [Options.HostLimits], or
// the current adaptive cap), so its goroutines do not pile up waiting for
// a busy host's slots: a slow or tightly capped host does not hold up the
// others, however the hosts are ordered in urls. URLs for a host at its cap
// wait and start in input order as that host's URLs finish.
//
// A URL waiting out a retry's backoff is not in progress: it holds no
// goroutine, no slot and no share of Concurrency, and the next URL starts
// in its place. When its backoff is over it goes ahead of its host's URLs
// not yet started. While 4 × Options.Concurrency URLs wait (for a busy
// host or out a backoff), All reads no further in urls; see the package
// documentation, "Batches".
func (f *Fetcher) All(ctx context.Context, urls []string) []Result {
	return all(ctx, f, urls, urlInput)
}

// Stream fetches the URLs of urls with GET and yields their Results as they
// complete, with [Result.Index] giving each URL's position in urls. It keeps
// at most [Options.Concurrency] URLs in progress, on at most as many
// goroutines. Like All, it starts a URL only while its host is below its
// cap in this batch, so a slow or tightly capped host does not hold up the
// others; URLs for a host at its cap wait, in input order, for that host's
// URLs to finish. A URL waiting out a retry's backoff holds no goroutine,
// slot or share of Concurrency, as in All.
//
// Stream pulls urls lazily, only to keep its goroutines busy: it pulls
// another URL only while fewer than 4 × Options.Concurrency of its URLs
// wait (for a busy host or out a backoff), so at most 5 × Concurrency URLs
// are pulled from urls and not yet yielded, and memory stays bounded
// however long urls is. urls is consumed on a coroutine driven by the
// loop; slices.Values turns a slice into one.
//
// Breaking out of the loop cancels the URLs in progress and ends those
// waiting out a backoff (their Results are counted in Stats and passed to
// OnResult, but not yielded), drops the URLs waiting for a busy host (never
// started, they have no Result), and stops pulling urls; every goroutine
// Stream started has exited when the loop statement returns. If ctx ends,
// the remaining URLs are still yielded, each failing at once with the
// context's error.
func (f *Fetcher) Stream(ctx context.Context, urls iter.Seq[string]) iter.Seq[Result] {
	return stream(ctx, f, urls, urlInput)
}

// AllRequests sends every request of reqs like [Fetcher.Do] and returns
// their Results in input order, one per request, once all are final, with
// the guarantees of [Fetcher.All]: at most [Options.Concurrency] requests in
// progress, on as many goroutines, all exited when it returns; a host at its
// cap holds up only its own requests; a request waiting out a retry's backoff
// holds no goroutine, slot or share of Concurrency; bounded read-ahead.
// Result.URL is the request's URL.
//
// Each request is sent as Do would send it (its method, header and body;
// retried only if safe to repeat, see Do; redirects followed hop by hop),
// and ends when ctx or its own context ends. A request whose own context
// ends while it waits out a backoff ends when the backoff is over. A nil or
// invalid request fails with [ErrInvalidRequest]. The batch does not
// modify the requests; it does not close the bodies of requests it never
// sent.
func (f *Fetcher) AllRequests(ctx context.Context, reqs []*http.Request) []Result {
	return all(ctx, f, reqs, requestInput)
}

// StreamRequests sends the requests of reqs as [Fetcher.AllRequests] does,
// and yields their Results as they complete, with [Result.Index] giving
// each request's position in reqs, under the guarantees of [Fetcher.Stream]:
// reqs is pulled lazily with bounded memory, and breaking out of the loop
// cancels the requests in progress, drops those not started, stops pulling
// reqs, and returns only once every goroutine it started has exited.
func (f *Fetcher) StreamRequests(ctx context.Context, reqs iter.Seq[*http.Request]) iter.Seq[Result] {
	return stream(ctx, f, reqs, requestInput)
}

func urlInput(u string) input            { return input{url: u} }
func requestInput(r *http.Request) input { return input{req: r} }

// all runs a batch over items, each made an input by in, and returns the
// Results in input order: All and AllRequests.
func all[T any](ctx context.Context, f *Fetcher, items []T, in func(T) input) []Result {
	results := make([]Result, len(items))
	i := 0
	next := func() (input, bool) {
		if i == len(items) {
			return input{}, false
		}
		i++
		return in(items[i-1]), true
	}
	f.runBatch(ctx, next, func(r Result) bool {
		results[r.Index] = r
		return true
	})
	return results
}

// stream runs a batch over items, each made an input by in, yielding the
// Results as they complete: Stream and StreamRequests.
func stream[T any](ctx context.Context, f *Fetcher, items iter.Seq[T], in func(T) input) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		next, stop := iter.Pull(items)
		defer stop()
		f.runBatch(ctx, func() (input, bool) {
			item, ok := next()
			if !ok {
				return input{}, false
			}
			return in(item), true
		}, yield)
	}
}

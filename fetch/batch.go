package fetch

import (
	"context"
	"iter"
	"sync"
	"sync/atomic"
)

// All fetches every URL with GET and returns their Results in input order,
// one per URL, once all are final. At most Options.Concurrency URLs are in
// progress at once, on as many goroutines started by All, which have all
// exited when it returns. If ctx ends, the URLs in progress fail with the
// context's error and the rest fail with it at once, so All returns promptly.
//
// A URL waiting for a busy host's slot occupies one of the batch's
// goroutines (but no global slot): interleave hosts in urls, or run a batch
// per host, to keep many hosts busy at once.
func (f *Fetcher) All(ctx context.Context, urls []string) []Result {
	results := make([]Result, len(urls))
	workers := min(f.cfg.Concurrency, len(urls))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				results[i] = f.get(ctx, urls[i], i)
			}
		})
	}
	wg.Wait()
	return results
}

// Stream fetches the URLs of urls with GET and yields their Results as they
// complete, with Result.Index giving each URL's position in urls. It pulls
// urls lazily and keeps at most Options.Concurrency URLs in progress, on at
// most as many goroutines, so memory stays bounded however long urls is.
// urls is consumed on a coroutine driven by the loop; slices.Values turns a
// slice into one.
//
// Breaking out of the loop cancels the URLs in progress (their Results are
// counted in Stats and passed to OnResult, but not yielded) and stops
// pulling urls; every goroutine Stream started has exited when the loop
// statement returns. If ctx ends, the remaining URLs are still yielded,
// each failing at once with the context's error.
func (f *Fetcher) Stream(ctx context.Context, urls iter.Seq[string]) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		ctx, cancel := context.WithCancel(ctx)
		next, stop := iter.Pull(urls)

		type job struct {
			url   string
			index int
		}
		jobs := make(chan job)
		results := make(chan Result)
		var wg sync.WaitGroup
		workers, inFlight := 0, 0

		defer func() {
			// Runs on a normal end, a break, and a panic in the loop body.
			cancel()
			stop()
			close(jobs)
			for ; inFlight > 0; inFlight-- {
				<-results
			}
			wg.Wait()
		}()

		url, more := next()
		index := 0
		for more || inFlight > 0 {
			var send chan job
			if more {
				send = jobs
				if workers == inFlight && workers < f.cfg.Concurrency {
					workers++ // every worker is busy: start one more
					wg.Go(func() {
						for j := range jobs {
							results <- f.get(ctx, j.url, j.index)
						}
					})
				}
			}
			select {
			case send <- job{url, index}:
				inFlight++
				index++
				url, more = next()
			case r := <-results:
				inFlight--
				if !yield(r) {
					return
				}
			}
		}
	}
}

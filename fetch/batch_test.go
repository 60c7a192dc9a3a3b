package fetch

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestAllReturnsResultsInInputOrder(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "7") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(r.URL.Path))
	})
	f := newFetcher(t, Options{Concurrency: 8})
	var urls []string
	for i := range 50 {
		urls = append(urls, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	res := f.All(context.Background(), urls)
	require.Len(t, res, 50)
	for i, r := range res {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, urls[i], r.URL)
		if i%10 == 7 {
			var se *StatusError
			assert.ErrorAs(t, r.Err, &se)
			continue
		}
		require.NoError(t, r.Err)
		assert.Equal(t, fmt.Sprintf("/%d", i), string(r.Body))
	}
	assert.Empty(t, f.All(context.Background(), nil))
}

// Cancelling ctx mid-batch returns promptly, with an error for every URL.
func TestAllContextCancelMidBatchReturnsPromptly(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	f := newFetcher(t, Options{Concurrency: 4, PerHost: 4})
	urls := slices.Repeat([]string{srv.URL}, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Result)
	go func() { done <- f.All(ctx, urls) }()
	require.Eventually(t, func() bool { return srv.inFlight.Load() == 4 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	cancel()
	res := <-done
	assert.Less(t, time.Since(start), time.Second)
	require.Len(t, res, 100)
	for _, r := range res {
		require.ErrorIs(t, r.Err, context.Canceled)
	}
	st := f.Stats()
	assert.Equal(t, int64(100), st.Canceled)
	assert.Equal(t, int64(4), st.Attempts, "no request is sent after the cancel")
	assert.Zero(t, st.InFlight)
}

func TestStreamYieldsEveryResultAsItCompletes(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	f := newFetcher(t, Options{Concurrency: 5})
	urls := slices.Repeat([]string{srv.URL}, 40)
	seen := make(map[int]bool)
	for r := range f.Stream(context.Background(), slices.Values(urls)) {
		require.NoError(t, r.Err)
		assert.False(t, seen[r.Index], "index %d yielded twice", r.Index)
		seen[r.Index] = true
	}
	assert.Len(t, seen, 40)
	assert.LessOrEqual(t, srv.maxIn.Load(), int64(5))

	for range f.Stream(context.Background(), slices.Values([]string{})) {
		t.Fatal("nothing to yield")
	}
}

// Breaking out of a Stream loop cancels the rest and leaves no goroutine.
func TestStreamEarlyBreakLeavesNoGoroutine(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	func() {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/fast" {
				return
			}
			<-r.Context().Done()
		})
		defer srv.Close()
		f, err := New(Options{Concurrency: 8})
		require.NoError(t, err)
		defer f.CloseIdleConnections()
		urls := func(yield func(string) bool) {
			for i := 0; ; i++ { // endless input
				u := srv.URL + "/slow"
				if i == 5 {
					u = srv.URL + "/fast"
				}
				if !yield(u) {
					return
				}
			}
		}
		got := 0
		for r := range f.Stream(context.Background(), urls) {
			require.NoError(t, r.Err)
			assert.Equal(t, 5, r.Index)
			got++
			break
		}
		assert.Equal(t, 1, got)
		st := f.Stats()
		assert.Zero(t, st.InFlight, "every started request has finished when the loop returns")
		assert.Equal(t, st.Requests-1, st.Canceled, "every other started URL was canceled")
		assert.LessOrEqual(t, st.Requests, int64(8), "no more than Concurrency URLs were started")
	}()
	goleak.VerifyNone(t, baseline)
}

// Stream pulls its input lazily and keeps goroutines and memory bounded
// whatever the input's size (colly #381: 199k goroutines parked).
func TestStreamBoundedForHugeInput_colly381(t *testing.T) {
	const conc = 16
	n := 20_000
	if raceEnabled {
		n = 4_000
	}
	client := fakeClient(func(r *http.Request) (*http.Response, error) {
		return fakeResponse(r, http.StatusOK, "ok"), nil
	})
	f := newFetcher(t, Options{Client: client, Concurrency: conc, PerHost: conc})
	base := runtime.NumGoroutine()
	produced, consumed, maxAhead, maxG := 0, 0, 0, 0
	urls := func(yield func(string) bool) {
		for i := range n {
			produced++
			if !yield("http://h" + fmt.Sprint(i%7) + "/") {
				return
			}
		}
	}
	for r := range f.Stream(context.Background(), urls) {
		require.NoError(t, r.Err)
		consumed++
		maxAhead = max(maxAhead, produced-consumed)
		if consumed%1000 == 0 {
			maxG = max(maxG, runtime.NumGoroutine()-base)
		}
	}
	assert.Equal(t, n, consumed)
	assert.LessOrEqual(t, maxAhead, conc+1, "at most Concurrency URLs in progress plus the one pulled next")
	assert.LessOrEqual(t, maxG, conc+2, "at most Concurrency workers (plus the input coroutine)")
}

// When ctx ends, Stream still yields one Result per remaining URL, each
// failing at once.
func TestStreamContextCancelYieldsEveryURL(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	f := newFetcher(t, Options{Concurrency: 3, PerHost: 3})
	ctx, cancel := context.WithCancel(context.Background())
	urls := slices.Repeat([]string{srv.URL}, 30)
	var results []Result
	go func() {
		for deadline := time.Now().Add(5 * time.Second); srv.inFlight.Load() < 3 && time.Now().Before(deadline); {
			runtime.Gosched()
		}
		cancel()
	}()
	for r := range f.Stream(ctx, slices.Values(urls)) {
		results = append(results, r)
	}
	require.Len(t, results, 30)
	for _, r := range results {
		assert.True(t, errors.Is(r.Err, context.Canceled), "%v", r.Err)
	}
}

func TestStreamIsReusable(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	f := newFetcher(t, Options{Concurrency: 2})
	seq := f.Stream(context.Background(), slices.Values([]string{srv.URL, srv.URL}))
	count := func(s iter.Seq[Result]) (n int) {
		for range s {
			n++
		}
		return n
	}
	assert.Equal(t, 2, count(seq))
	assert.Equal(t, 2, count(seq))
}

// In a batch, Result.Duration runs from when the batch took the URL from
// its input, as documented, not from when a goroutine picked it up; the
// time before its first attempt was sent is Result.Wait.
func TestBatchDurationIncludesDispatchWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newHostDelays(map[string]time.Duration{"a.test": time.Second})
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 3, PerHost: 1, Retry: retry.NoRetry()})
		urls := []string{"http://a.test/0", "http://a.test/1", "http://a.test/2"}
		start := time.Now()
		res := f.All(context.Background(), urls)
		assert.Equal(t, 3*time.Second, time.Since(start))
		for i, r := range res {
			require.NoError(t, r.Err)
			// All three are taken at once; /1 and /2 wait for the host.
			assert.Equal(t, time.Duration(i+1)*time.Second, r.Duration, urls[i])
			assert.Equal(t, time.Duration(i)*time.Second, r.Wait, "%s: its own time is its 1s request", urls[i])
		}
	})
}

// A host at its cap makes a batch's URL wait before its first attempt:
// that is Wait; a retry's backoff is not.
func TestResultWaitCountsHostCapNotBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newRetryOnce(time.Second, "3")
		f := newFetcher(t, Options{Client: tr.client(), Concurrency: 4, PerHost: 1, Retry: hintRetry()})
		res := f.All(context.Background(), []string{"http://a.test/0", "http://a.test/retry/1"})
		require.NoError(t, res[0].Err)
		require.NoError(t, res[1].Err)
		assert.Equal(t, time.Second, res[0].Duration)
		assert.Zero(t, res[0].Wait)
		// /retry/1 waits 1s for the host, gets 503 at 2s, retries at 5s.
		assert.Equal(t, 2, res[1].Attempts)
		assert.Equal(t, 6*time.Second, res[1].Duration)
		assert.Equal(t, time.Second, res[1].Wait)
	})
}

// Get's Duration runs from the call; its Wait is the time spent waiting
// for the host's slot held by another call. A call that never sent
// anything waited all of its Duration.
func TestGetWaitIsTimeBeforeFirstSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newHostDelays(map[string]time.Duration{"a.test": time.Second})
		f := newFetcher(t, Options{Client: tr.client(), PerHost: 1, Retry: retry.NoRetry()})
		first := make(chan Result)
		go func() { first <- f.Get(context.Background(), "http://a.test/0") }()
		synctest.Wait() // the first call holds the host's slot
		r := f.Get(context.Background(), "http://a.test/1")
		require.NoError(t, r.Err)
		assert.Equal(t, 2*time.Second, r.Duration)
		assert.Equal(t, time.Second, r.Wait)
		r0 := <-first
		assert.Equal(t, time.Second, r0.Duration)
		assert.Zero(t, r0.Wait)

		go func() { first <- f.Get(context.Background(), "http://a.test/2") }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		r = f.Get(ctx, "http://a.test/3")
		require.ErrorIs(t, r.Err, context.DeadlineExceeded)
		assert.Zero(t, r.Attempts)
		assert.Equal(t, 500*time.Millisecond, r.Duration)
		assert.Equal(t, r.Duration, r.Wait, "nothing was sent")
		<-first
	})
}

package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

// counterOf returns the Stats counter that an Outcome is counted in.
func counterOf(st Stats, o Outcome) int64 {
	return map[Outcome]int64{
		OutcomeOK: st.OK, OutcomeStatusError: st.StatusErrors, OutcomeNetworkError: st.NetworkErrors,
		OutcomeTimeout: st.Timeouts, OutcomeTooLarge: st.TooLarge, OutcomeDisallowed: st.Disallowed,
		OutcomeCanceled: st.Canceled, OutcomeOther: st.OtherErrors,
		OutcomeRobotsUnavailable: st.RobotsUnavailable, OutcomeInvalid: st.Invalid,
		OutcomeForbidden: st.Forbidden, OutcomeHostUnavailable: st.HostUnavailable,
	}[o]
}

// assertOutcome checks that res has Outcome want and that f's Stats counted
// it there and nowhere else: one classification, not two.
func assertOutcome(t *testing.T, f *Fetcher, res Result, want Outcome) {
	t.Helper()
	assert.Equal(t, want, res.Outcome(), "%v", res.Err)
	st := f.Stats()
	for o := OutcomeOK; o < outcomeCount; o++ {
		n := int64(0)
		if o == want {
			n = 1
		}
		assert.Equal(t, n, counterOf(st, o), "Stats counter of %v", o)
	}
}

// Every category, each produced by a real loopback server or fault, is
// reported by Result.Outcome exactly as Stats counts it.
func TestResultOutcomeEachCategoryMatchesStats(t *testing.T) {
	ok := newServer(t, okHandler("hello"))
	notFound := newServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	stall := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	big := newServer(t, okHandler(strings.Repeat("x", 100)))
	robots := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			_, _ = io.WriteString(w, "User-agent: *\nDisallow: /\n")
			return
		}
		_, _ = io.WriteString(w, "page")
	})
	reset, _ := rawServer(t, func(c net.Conn) {
		readRequestHead(c)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	for _, tc := range []struct {
		name string
		o    Options
		ctx  context.Context
		url  string
		want Outcome
	}{
		{"2xx", Options{}, context.Background(), ok.URL, OutcomeOK},
		{"404", Options{}, context.Background(), notFound.URL, OutcomeStatusError},
		{"reset", Options{Retry: fastRetry(2)}, context.Background(), reset + "/", OutcomeNetworkError},
		{"attempt timeout", Options{AttemptTimeout: 20 * time.Millisecond, Retry: fastRetry(2)}, context.Background(), stall.URL, OutcomeTimeout},
		{"too large", Options{MaxBodyBytes: 10}, context.Background(), big.URL, OutcomeTooLarge},
		{"robots", Options{Robots: true}, context.Background(), robots.URL + "/page", OutcomeDisallowed},
		{"canceled before", Options{}, canceled, ok.URL, OutcomeCanceled},
		{"robots.txt unavailable", Options{Robots: true, AttemptTimeout: 20 * time.Millisecond}, context.Background(), stall.URL + "/page", OutcomeRobotsUnavailable},
		{"invalid URL", Options{}, context.Background(), "ftp://example.com/", OutcomeInvalid},
		{"invalid port", Options{}, context.Background(), "http://127.0.0.1:99999/", OutcomeInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFetcher(t, tc.o)
			assertOutcome(t, f, f.Get(tc.ctx, tc.url), tc.want)
		})
	}
}

// An attempt timeout matches context.DeadlineExceeded too, yet is a Timeout;
// the caller's own deadline ending during an attempt is Canceled.
func TestOutcomeTellsAttemptTimeoutFromCallerDeadline(t *testing.T) {
	stall := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })

	f := newFetcher(t, Options{AttemptTimeout: 20 * time.Millisecond, Retry: retry.NoRetry()})
	res := f.Get(context.Background(), stall.URL)
	require.ErrorIs(t, res.Err, ErrAttemptTimeout)
	require.ErrorIs(t, res.Err, context.DeadlineExceeded, "the ambiguity Outcome resolves")
	assertOutcome(t, f, res, OutcomeTimeout)

	g := newFetcher(t, Options{AttemptTimeout: time.Minute, Retry: retry.NoRetry()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	res = g.Get(ctx, stall.URL)
	require.ErrorIs(t, res.Err, context.DeadlineExceeded)
	require.NotErrorIs(t, res.Err, ErrAttemptTimeout)
	assertOutcome(t, g, res, OutcomeCanceled)
}

// Ctrl+C during a retry's backoff: Err matches both context.Canceled and the
// last attempt's *StatusError; Outcome says Canceled.
func TestOutcomeCancelDuringBackoffIsCanceledNotStatusError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			return fakeResponse(r, http.StatusServiceUnavailable, "", "Retry-After", "60"), nil
		})
		f := newFetcher(t, Options{Client: client, Retry: &retry.Policy{Schedule: retry.Schedule{MaxHint: time.Hour}, MaxAttempts: 3}})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() { done <- f.Get(ctx, "http://h/") }()
		time.Sleep(time.Second) // in the 60s backoff
		cancel()
		res := <-done
		require.ErrorIs(t, res.Err, context.Canceled)
		var se *StatusError
		require.ErrorAs(t, res.Err, &se)
		assertOutcome(t, f, res, OutcomeCanceled)
	})
}

// When the retries run out the last attempt decides: the exhausted
// *retry.Error wrapping a 503 is a StatusError, wrapping a timeout a Timeout.
func TestOutcomeOfExhaustedRetriesIsTheLastAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n int
		client := fakeClient(func(r *http.Request) (*http.Response, error) {
			n++
			if n == 1 {
				<-r.Context().Done() // the first attempt times out...
				return nil, r.Context().Err()
			}
			return fakeResponse(r, http.StatusServiceUnavailable, ""), nil // ...the second gets a 503
		})
		f := newFetcher(t, Options{Client: client, AttemptTimeout: time.Second, Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 2}})
		res := f.Get(context.Background(), "http://h/")
		require.ErrorIs(t, res.Err, retry.ErrExhausted)
		assertOutcome(t, f, res, OutcomeStatusError)

		g := newFetcher(t, Options{Client: fakeClient(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}), AttemptTimeout: time.Second, Retry: &retry.Policy{Schedule: retry.Schedule{Initial: time.Millisecond}, MaxAttempts: 2}})
		res = g.Get(context.Background(), "http://h/")
		require.ErrorIs(t, res.Err, retry.ErrExhausted)
		assertOutcome(t, g, res, OutcomeTimeout)
	})
}

func TestOutcomeString(t *testing.T) {
	want := map[Outcome]string{
		OutcomeOK: "ok", OutcomeStatusError: "status error", OutcomeNetworkError: "network error",
		OutcomeTimeout: "timeout", OutcomeTooLarge: "too large", OutcomeDisallowed: "disallowed",
		OutcomeCanceled: "canceled", OutcomeOther: "other",
		OutcomeRobotsUnavailable: "robots.txt unavailable", OutcomeInvalid: "invalid request",
		OutcomeForbidden: "forbidden address", OutcomeHostUnavailable: "host unavailable",
	}
	for o, s := range want {
		assert.Equal(t, s, o.String())
	}
	assert.Len(t, want, int(outcomeCount))
	assert.Equal(t, "Outcome(99)", Outcome(99).String())
	assert.Equal(t, "Outcome(-1)", Outcome(-1).String())
	assert.Equal(t, OutcomeOK, Result{}.Outcome(), "the zero Result is OK, as Result.OK says")
}

func BenchmarkResultOutcome(b *testing.B) {
	res := Result{Err: &retry.Error{Reason: retry.ErrExhausted, Last: &StatusError{Status: 503}}}
	b.ReportAllocs()
	for b.Loop() {
		if res.Outcome() != OutcomeStatusError {
			b.Fatal("wrong outcome")
		}
	}
}

// Classifying a successful Result is on every request's path: it must not
// allocate (errors.As targets would, if declared before the nil check).
func TestOutcomeOfSuccessDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { _ = Result{Status: 200}.Outcome() })
	assert.Zero(t, allocs)
}

// Result.OK works on the value Get returns (a pointer receiver made
// f.Get(ctx, u).OK() a compile error).
func TestResultOKOnReturnedValue(t *testing.T) {
	srv := newServer(t, okHandler("x"))
	f := newFetcher(t, Options{})
	assert.True(t, f.Get(context.Background(), srv.URL).OK())
	assert.False(t, f.Get(context.Background(), "ftp://x/").OK())
	assert.False(t, Result{Err: errors.New("x")}.OK())
}

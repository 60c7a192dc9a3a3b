package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redirectTo answers every request with a 302 to target + the path's last
// element.
func redirectTo(target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		i := strings.LastIndexByte(r.URL.Path, '/')
		http.Redirect(w, r, target+"/p/"+r.URL.Path[i+1:], http.StatusFound)
	}
}

// The scenario: 16 URLs on two hosts redirected to a third host,
// PerHost 2. Every hop to the third host waits for its slot: never more
// than 2 in flight there. A caller's plain Transport (no MaxConnsPerHost)
// cannot hide the defect.
func TestRedirectHopWaitsForTheTargetHostsSlot(t *testing.T) {
	for _, name := range []string{"default client", "caller's client"} {
		t.Run(name, func(t *testing.T) {
			target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(5 * time.Millisecond) // the page takes a while to serve
				_, _ = io.WriteString(w, "page")
			})
			a := newServer(t, redirectTo(target.URL))
			b := newServer(t, redirectTo(target.URL))
			o := Options{Concurrency: 64, PerHost: 2, Retry: retry.NoRetry()}
			if name == "caller's client" {
				tr := &http.Transport{}
				t.Cleanup(tr.CloseIdleConnections)
				o.Client = &http.Client{Transport: tr}
			}
			f := newFetcher(t, o)
			var urls []string
			for i := range 16 {
				host := a.URL
				if i%2 == 1 {
					host = b.URL
				}
				urls = append(urls, fmt.Sprintf("%s/r/%d", host, i))
			}
			for i, r := range f.All(context.Background(), urls) {
				require.NoError(t, r.Err, r.URL)
				assert.Equal(t, "page", string(r.Body))
				assert.Equal(t, fmt.Sprintf("%s/p/%d", target.URL, i), r.FinalURL)
				assert.Equal(t, 1, r.Attempts, "a hop is not an attempt")
			}
			assert.Equal(t, int64(16), target.requests.Load())
			assert.LessOrEqual(t, target.maxIn.Load(), int64(2), "the third host never had more than PerHost in flight")
			st := f.Stats()
			assert.Equal(t, int64(16), st.Attempts)
			assert.Equal(t, int64(16), st.Redirects)
			assert.Equal(t, int64(16), st.OK)
		})
	}
}

// A hop into a path the target host's robots.txt disallows ends the Result
// as disallowed; the path is never requested.
func TestRedirectIntoDisallowedPathIsDisallowedAndNeverRequested(t *testing.T) {
	var secret atomic.Int64
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/robots.txt":
			_, _ = io.WriteString(w, "User-agent: *\nDisallow: /private/\n")
		case "/private/secret":
			secret.Add(1)
			_, _ = io.WriteString(w, "must not be fetched")
		default:
			http.NotFound(w, r)
		}
	})
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target.URL+"/private/secret", http.StatusFound)
	})
	f := newFetcher(t, Options{Robots: true, Retry: fastRetry(3)})
	r := f.Get(context.Background(), origin.URL+"/go")
	require.ErrorIs(t, r.Err, ErrDisallowed)
	assert.NotErrorIs(t, r.Err, ErrRobotsUnavailable)
	assert.Contains(t, r.Err.Error(), target.URL+"/private/secret")
	assert.Equal(t, OutcomeDisallowed, r.Outcome())
	assert.Nil(t, r.Body)
	assert.Equal(t, 1, r.Attempts, "the redirect was sent, and not retried")
	assert.Equal(t, http.StatusFound, r.Status, "the last response is the redirect")
	assert.Equal(t, origin.URL+"/go", r.FinalURL)
	assert.Zero(t, secret.Load(), "the disallowed path was never requested")
	st := f.Stats()
	assert.Equal(t, int64(1), st.Disallowed)
	assert.Equal(t, int64(2), st.RobotsFetches, "each host's robots.txt")
	assert.Zero(t, st.Redirects)
}

// fakeWeb is an in-memory web for synctest bubbles: handlers by host, each
// request's arrival time recorded by host.
type fakeWeb struct {
	hosts map[string]func(r *http.Request) *http.Response

	mu       sync.Mutex
	arrivals map[string][]time.Duration // since origin, by host
	requests []*http.Request
	origin   time.Time
}

func newFakeWeb(hosts map[string]func(r *http.Request) *http.Response) *fakeWeb {
	return &fakeWeb{hosts: hosts, arrivals: map[string][]time.Duration{}, origin: time.Now()}
}

func (w *fakeWeb) client() *http.Client {
	return fakeClient(func(r *http.Request) (*http.Response, error) {
		w.mu.Lock()
		w.requests = append(w.requests, r)
		if r.URL.Path != "/robots.txt" {
			w.arrivals[r.URL.Host] = append(w.arrivals[r.URL.Host], time.Since(w.origin))
		}
		w.mu.Unlock()
		h := w.hosts[r.URL.Host]
		if h == nil {
			return fakeResponse(r, http.StatusNotFound, "no such host here"), nil
		}
		return h(r), nil
	})
}

// redirectResp answers r with code and a Location.
func redirectResp(r *http.Request, code int, loc string) *http.Response {
	return fakeResponse(r, code, "moved", "Location", loc)
}

// The Crawl-delay of a redirect's target host spaces the hops to it, like
// first requests, on the fake clock.
func TestRedirectHopRespectsTheTargetHostsCrawlDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toC := func(r *http.Request) *http.Response {
			if r.URL.Path == "/robots.txt" {
				return fakeResponse(r, http.StatusNotFound, "")
			}
			return redirectResp(r, http.StatusFound, "http://c.test/p"+r.URL.Path)
		}
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": toC, "b.test": toC,
			"c.test": func(r *http.Request) *http.Response {
				if r.URL.Path == "/robots.txt" {
					return fakeResponse(r, http.StatusOK, "User-agent: *\nCrawl-delay: 1\n")
				}
				return fakeResponse(r, http.StatusOK, "page")
			},
		})
		f := newFetcher(t, Options{Client: web.client(), Robots: true, Concurrency: 16, PerHost: 4, Retry: retry.NoRetry()})
		urls := []string{"http://a.test/0", "http://b.test/1", "http://a.test/2", "http://b.test/3"}
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, web.arrivals["c.test"])
	})
}

// The per-host rate (MinDelay) of a redirect's target host spaces the hops
// to it, even hops that stay on one host.
func TestRedirectHopRespectsTheTargetHostsRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				return redirectResp(r, http.StatusMovedPermanently, "http://c.test/p"+r.URL.Path)
			},
			"c.test": func(r *http.Request) *http.Response {
				if strings.HasPrefix(r.URL.Path, "/p/") {
					return redirectResp(r, http.StatusFound, "/final"+r.URL.Path) // a hop on the same host
				}
				return fakeResponse(r, http.StatusOK, "page")
			},
		})
		f := newFetcher(t, Options{Client: web.client(), MinDelay: time.Second, Retry: retry.NoRetry()})
		for _, r := range f.All(context.Background(), []string{"http://a.test/0", "http://a.test/1"}) {
			require.NoError(t, r.Err, r.URL)
			assert.Equal(t, "http://c.test/final/p/"+r.URL[len("http://a.test/"):], r.FinalURL)
		}
		// a.test at 0s and 1s; c.test's four requests one second apart.
		assert.Equal(t, []time.Duration{0, time.Second}, web.arrivals["a.test"])
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, web.arrivals["c.test"])
		assert.Equal(t, int64(4), f.Stats().Redirects)
	})
}

// Hops that go back and forth between two hosts never hold two hosts'
// slots at once: with one global slot and one per host, no deadlock.
func TestRedirectHopsNeverHoldTwoHostsSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pingPong := func(other string) func(r *http.Request) *http.Response {
			return func(r *http.Request) *http.Response {
				n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
				if n >= 3 {
					return fakeResponse(r, http.StatusOK, "done")
				}
				return redirectResp(r, http.StatusFound, fmt.Sprintf("http://%s/%d", other, n+1))
			}
		}
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": pingPong("b.test"), "b.test": pingPong("a.test"),
		})
		f := newFetcher(t, Options{Client: web.client(), Concurrency: 1, PerHost: 1, Retry: retry.NoRetry()})
		var urls []string
		for range 4 {
			urls = append(urls, "http://a.test/0", "http://b.test/0")
		}
		for _, r := range f.All(context.Background(), urls) {
			require.NoError(t, r.Err, r.URL)
		}
		assert.Equal(t, int64(24), f.Stats().Redirects)
	})
}

// At most MaxRedirects redirects are followed; the next one ends the
// Result with ErrRedirect and the redirect's status, not retried.
func TestRedirectHopLimit(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if r.URL.Query().Has("end") && n == MaxRedirects {
			_, _ = io.WriteString(w, "end")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/%d?%s", n+1, r.URL.RawQuery), http.StatusFound)
	})
	f := newFetcher(t, Options{Retry: fastRetry(3)})

	r := f.Get(context.Background(), srv.URL+"/0?end")
	require.NoError(t, r.Err, "exactly MaxRedirects redirects are followed")
	assert.Equal(t, srv.URL+fmt.Sprintf("/%d?end", MaxRedirects), r.FinalURL)

	r = f.Get(context.Background(), srv.URL+"/0")
	require.ErrorIs(t, r.Err, ErrRedirect)
	assert.Contains(t, r.Err.Error(), "stopped after 10 redirects")
	var se *StatusError
	require.ErrorAs(t, r.Err, &se)
	assert.Equal(t, http.StatusFound, se.Status)
	assert.Equal(t, http.StatusFound, r.Status)
	assert.Equal(t, OutcomeStatusError, r.Outcome())
	assert.Equal(t, 1, r.Attempts, "not retried")
	assert.Equal(t, srv.URL+fmt.Sprintf("/%d?", MaxRedirects), r.FinalURL)
	st := f.Stats()
	assert.Equal(t, int64(2*MaxRedirects), st.Redirects)
	assert.Equal(t, int64(2*(MaxRedirects+1)), srv.requests.Load())
}

// A 307 or 308 keeps the method and the body, sent again from GetBody; a
// body that cannot be sent again stops the chain with a clear error, and
// the target is never requested.
func TestRedirect307KeepsMethodAndBodyOnlyWithGetBody(t *testing.T) {
	type seen struct{ method, body, ctype string }
	var mu sync.Mutex
	var got []seen
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, string(body), r.Header.Get("Content-Type")})
		mu.Unlock()
		switch r.URL.Path {
		case "/307":
			http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
		case "/308":
			http.Redirect(w, r, "/target", http.StatusPermanentRedirect)
		case "/303":
			http.Redirect(w, r, "/target", http.StatusSeeOther)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	f := newFetcher(t, Options{Retry: retry.NoRetry()})
	post := func(path string, getBody bool) Result {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader("payload"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/plain")
		if !getBody {
			req.GetBody = nil
		}
		return f.Do(context.Background(), req)
	}
	for _, path := range []string{"/307", "/308"} {
		got = nil
		r := post(path, true)
		require.NoError(t, r.Err, path)
		assert.Equal(t, []seen{{"POST", "payload", "text/plain"}, {"POST", "payload", "text/plain"}}, got, path)

		got = nil
		r = post(path, false)
		require.ErrorIs(t, r.Err, ErrRedirect, path)
		assert.Contains(t, r.Err.Error(), "GetBody")
		assert.Equal(t, OutcomeStatusError, r.Outcome())
		assert.Len(t, got, 1, "%s: the target was never requested", path)
	}

	got = nil
	r := post("/303", false)
	require.NoError(t, r.Err)
	assert.Equal(t, []seen{{"POST", "payload", "text/plain"}, {"GET", "", ""}}, got, "a 303 turns a POST into a GET without body")
}

// Credentials go with a hop only to the same host or a subdomain, as in
// net/http; other headers always go, and each hop gets a Referer.
func TestRedirectDropsCredentialsCrossHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hop := func(loc string) func(r *http.Request) *http.Response {
			return func(r *http.Request) *http.Response {
				if r.URL.Path == "/start" {
					return redirectResp(r, http.StatusFound, loc)
				}
				return fakeResponse(r, http.StatusOK, "ok")
			}
		}
		for _, tc := range []struct {
			from, to string
			keep     bool
		}{
			{"a.test", "http://b.test/end", false},
			{"a.test", "http://api.a.test/end", true},
			{"a.test", "http://a.test:8080/end", true},
			{"a.test", "/end", true},
			{"127.0.0.1", "http://127.0.0.2/end", false},
		} {
			web := newFakeWeb(map[string]func(r *http.Request) *http.Response{tc.from: hop(tc.to)})
			f := newFetcher(t, Options{Client: web.client(), Retry: retry.NoRetry(), UserAgent: "tester/1"})
			req, err := http.NewRequest(http.MethodGet, "http://"+tc.from+"/start", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer secret")
			req.Header.Set("Cookie", "session=1")
			req.Header.Set("X-Custom", "kept")
			_ = f.Do(context.Background(), req)
			require.Len(t, web.requests, 2, tc.to)
			h := web.requests[1].Header
			assert.Equal(t, "kept", h.Get("X-Custom"), tc.to)
			assert.Equal(t, "tester/1", h.Get("User-Agent"), tc.to)
			assert.Equal(t, "http://"+tc.from+"/start", h.Get("Referer"), tc.to)
			if tc.keep {
				assert.Equal(t, "Bearer secret", h.Get("Authorization"), tc.to)
				assert.Equal(t, "session=1", h.Get("Cookie"), tc.to)
			} else {
				assert.Empty(t, h.Get("Authorization"), tc.to)
				assert.Empty(t, h.Get("Cookie"), tc.to)
			}
			assert.Equal(t, "Bearer secret", req.Header.Get("Authorization"), "req is not modified")
		}
	})
}

// No Referer from https to http, as net/http.
func TestRedirectRefererNotSentFromHTTPSToHTTP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response { return redirectResp(r, http.StatusFound, "http://b.test/") },
			"b.test": func(r *http.Request) *http.Response { return fakeResponse(r, http.StatusOK, "ok") },
		})
		f := newFetcher(t, Options{Client: web.client(), Retry: retry.NoRetry()})
		require.NoError(t, f.Get(context.Background(), "https://user:pw@a.test/x").Err)
		require.Len(t, web.requests, 2)
		assert.Empty(t, web.requests[1].Header.Get("Referer"))
	})
}

// A caller's CheckRedirect is honoured: called with the chain so far, its
// http.ErrUseLastResponse makes the redirect final (a non-2xx status), its
// error stops the chain and is wrapped.
func TestRedirectHonoursCallersCheckRedirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
				if n == 3 {
					return fakeResponse(r, http.StatusOK, "ok")
				}
				return redirectResp(r, http.StatusFound, fmt.Sprintf("/%d", n+1))
			},
		})
		errTooFar := errors.New("too far")
		var vias []int
		stopAt := 0
		client := web.client()
		client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			vias = append(vias, len(via))
			assert.Equal(t, "http://a.test/0", via[0].URL.String())
			switch {
			case len(via) < stopAt:
				return nil
			case stopAt == 1:
				return http.ErrUseLastResponse
			default:
				return errTooFar
			}
		}
		f := newFetcher(t, Options{Client: client, Retry: retry.NoRetry()})

		stopAt = 10
		require.NoError(t, f.Get(context.Background(), "http://a.test/0").Err)
		assert.Equal(t, []int{1, 2, 3}, vias)

		vias, stopAt = nil, 1
		r := f.Get(context.Background(), "http://a.test/0")
		assert.Equal(t, http.StatusFound, r.Status)
		assert.Equal(t, OutcomeStatusError, r.Outcome())
		assert.NotErrorIs(t, r.Err, ErrRedirect, "the caller chose the redirect as the response")

		vias, stopAt = nil, 2
		r = f.Get(context.Background(), "http://a.test/0")
		require.ErrorIs(t, r.Err, ErrRedirect)
		require.ErrorIs(t, r.Err, errTooFar)
		assert.Equal(t, []int{1, 2}, vias)
		assert.Equal(t, "http://a.test/1", r.FinalURL)
	})
}

// A Location that is not a URL the Fetcher can request ends the Result
// with ErrRedirect, without a retry; a 3xx without Location is final.
func TestRedirectToInvalidLocationIsAClearError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var loc string
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				if loc == "" {
					return fakeResponse(r, http.StatusFound, "no location")
				}
				return redirectResp(r, http.StatusFound, loc)
			},
		})
		f := newFetcher(t, Options{Client: web.client(), Retry: fastRetry(3)})
		for _, l := range []string{"http://a.test:99999/", "ftp://a.test/file", "http://[::1/", "http:///nohost", "mailto:x@a.test"} {
			loc = l
			r := f.Get(context.Background(), "http://a.test/")
			require.ErrorIs(t, r.Err, ErrRedirect, l)
			assert.NotErrorIs(t, r.Err, ErrInvalidRequest, l)
			assert.Contains(t, r.Err.Error(), "Location", l)
			want := OutcomeStatusError
			if l == "http://[::1/" {
				want = OutcomeOther // net/http's Client drops the response
			}
			assert.Equal(t, want, r.Outcome(), l)
			assert.Equal(t, 1, r.Attempts, l)
		}
		loc = ""
		r := f.Get(context.Background(), "http://a.test/")
		var se *StatusError
		require.ErrorAs(t, r.Err, &se)
		assert.NotErrorIs(t, r.Err, ErrRedirect)
		assert.Equal(t, http.StatusFound, se.Status)
		assert.Equal(t, 1, r.Attempts, "a 302 is not retried")
	})
}

// A transient failure at a later hop fails the attempt; the retry starts
// again from the request's own URL.
func TestRedirectTransientFailureAtHopRetriesFromTheStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cCalls int
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response { return redirectResp(r, http.StatusFound, "http://c.test/p") },
			"c.test": func(r *http.Request) *http.Response {
				cCalls++
				if cCalls == 1 {
					return fakeResponse(r, http.StatusServiceUnavailable, "busy", "Retry-After", "2")
				}
				return fakeResponse(r, http.StatusOK, "page")
			},
		})
		f := newFetcher(t, Options{Client: web.client(), Retry: fastRetry(3)})
		start := time.Now()
		r := f.Get(context.Background(), "http://a.test/")
		require.NoError(t, r.Err)
		assert.Equal(t, 2, r.Attempts)
		assert.Equal(t, "http://c.test/p", r.FinalURL)
		assert.Equal(t, []time.Duration{0, 2 * time.Second}, web.arrivals["a.test"], "the retry starts from the first URL, after c.test's Retry-After")
		assert.GreaterOrEqual(t, time.Since(start), 2*time.Second)
		st := f.Stats()
		assert.Equal(t, Stats{Requests: 1, Attempts: 2, Retries: 1, Redirects: 2, OK: 1, Bytes: 4}, st)
	})
}

// HEAD stays HEAD through a 301, 302 or 303, and a GET has no body.
func TestRedirectKeepsHEAD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response { return redirectResp(r, http.StatusSeeOther, "http://b.test/") },
			"b.test": func(r *http.Request) *http.Response { return fakeResponse(r, http.StatusOK, "") },
		})
		f := newFetcher(t, Options{Client: web.client()})
		req, err := http.NewRequest(http.MethodHead, "http://a.test/", nil)
		require.NoError(t, err)
		require.NoError(t, f.Do(context.Background(), req).Err)
		require.Len(t, web.requests, 2)
		assert.Equal(t, http.MethodHead, web.requests[1].Method)
	})
}

// The robots.txt fetch follows its own redirects, each hop under its
// host's slot, and applies the rules it finds.
func TestRobotsFetchFollowsRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				if r.URL.Path == "/robots.txt" {
					return redirectResp(r, http.StatusMovedPermanently, "http://b.test/robots.txt")
				}
				return fakeResponse(r, http.StatusOK, "page")
			},
			"b.test": func(r *http.Request) *http.Response {
				return fakeResponse(r, http.StatusOK, "User-agent: *\nDisallow: /x\n")
			},
		})
		f := newFetcher(t, Options{Client: web.client(), Robots: true})
		require.ErrorIs(t, f.Get(context.Background(), "http://a.test/x").Err, ErrDisallowed)
		require.NoError(t, f.Get(context.Background(), "http://a.test/y").Err)
		assert.Equal(t, int64(2), f.Stats().RobotsFetches)
	})
}

// A Host set by the caller stays through a relative Location only, as in
// net/http.
func TestRedirectKeepsCallersHostForRelativeLocation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				switch r.URL.Path {
				case "/start":
					return redirectResp(r, http.StatusFound, "/relative")
				case "/relative":
					return redirectResp(r, http.StatusFound, "http://b.test/absolute")
				}
				return fakeResponse(r, http.StatusOK, "ok")
			},
			"b.test": func(r *http.Request) *http.Response {
				if r.URL.Path == "/absolute" {
					return redirectResp(r, http.StatusFound, "/end")
				}
				return fakeResponse(r, http.StatusOK, "ok")
			},
		})
		f := newFetcher(t, Options{Client: web.client(), Retry: retry.NoRetry()})
		req, err := http.NewRequest(http.MethodGet, "http://a.test/start", nil)
		require.NoError(t, err)
		req.Host = "virtual.test"
		require.NoError(t, f.Do(context.Background(), req).Err)
		require.Len(t, web.requests, 4)
		var hosts []string
		for _, r := range web.requests {
			hosts = append(hosts, r.Host)
		}
		assert.Equal(t, []string{"virtual.test", "virtual.test", "", ""}, hosts)
	})
}

// The caller's cookie jar sees every hop: a cookie set by a redirect is
// sent to its target.
func TestRedirectHopUsesCallersJar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := newFakeWeb(map[string]func(r *http.Request) *http.Response{
			"a.test": func(r *http.Request) *http.Response {
				if r.URL.Path == "/login" {
					resp := redirectResp(r, http.StatusFound, "/home")
					resp.Header.Set("Set-Cookie", "session=42; Path=/")
					return resp
				}
				if c, err := r.Cookie("session"); err != nil || c.Value != "42" {
					return fakeResponse(r, http.StatusForbidden, "no session")
				}
				return fakeResponse(r, http.StatusOK, "home")
			},
		})
		client := web.client()
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		client.Jar = jar
		f := newFetcher(t, Options{Client: client, Retry: retry.NoRetry()})
		r := f.Get(context.Background(), "http://a.test/login")
		require.NoError(t, r.Err)
		assert.Equal(t, "home", string(r.Body))
	})
}

// A redirect hop to a host whose robots.txt is unavailable ends the Result
// as robots.txt unavailable, not retried.
func TestRedirectToHostWithRobotsUnavailable(t *testing.T) {
	var pages atomic.Int64
	target := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		pages.Add(1)
	})
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/robots.txt" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, target.URL+"/page", http.StatusFound)
	})
	f := newFetcher(t, Options{Robots: true, Retry: fastRetry(3)})
	r := f.Get(context.Background(), origin.URL+"/go")
	require.ErrorIs(t, r.Err, ErrRobotsUnavailable)
	assert.Equal(t, OutcomeRobotsUnavailable, r.Outcome())
	assert.Equal(t, 1, r.Attempts)
	assert.Zero(t, pages.Load())
}

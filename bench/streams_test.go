package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
	sws "github.com/sluicego/sluice/stream/websocket"
)

// BenchmarkStreams holds N reconnecting clients of one kind at once (10 000;
// 1 000 with -short), all connected to one server in a child process on
// 127.0.0.1, and measures, per implementation, in this order:
//
//   - B/client: HeapInuse+StackInuse after a GC with all N connected and idle,
//     minus the same before the clients were started, over N;
//     (heap-B/client and stack-B/client are its two parts);
//   - goroutines/client: runtime.NumGoroutine, the same way;
//   - cpu-ns/msg: this process's CPU time (getrusage, user+system) while the
//     server broadcasts 100 000 messages of 128 bytes (100 000/N to each
//     client), over the messages delivered to the clients;
//   - the reconnect wave: the server closes all N connections and its
//     listener at once and listens again; each client's first connection
//     after the drop is timed. The delay from its own disconnection to its
//     first dial is the backoff it applied: redial-delay-p50-ms, and
//     max-bucket-%, the largest share of the clients in one of the 20
//     buckets that split the 1s backoff window (uniform: 5 %). From the drop
//     to that first dial is its arrival at the server (redial-p50-ms,
//     -p99-ms; this includes the time the process takes to see N
//     disconnections), and to its first connection again, handshake included
//     (reconnected-p99-ms). Both histograms are logged.
//
// sluice is stream.Client with stream/websocket or stream/sse and default
// options except the reconnect backoff: Initial 1s (full jitter, so the first
// redial after a stable connection waits uniformly in [0, 1s]) and
// StableAfter 1s (the benchmark idles longer than that before the drop).
// WebSocket clients keep the default liveness checks (a ping every 30s);
// sluice-no-heartbeat turns them off, to show what they cost.
// raw-coder is a coder/websocket read loop (Dial, then Read with a
// cancellable context until an error), raw-nethttp a net/http GET whose body
// is read line by line with bufio.Scanner, one shared http.Transport; both
// redial at once when the connection ends, with no backoff, as such loops
// usually do.
func BenchmarkStreams(b *testing.B) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	limit, err := raiseNoFile()
	if err != nil {
		b.Fatal(err)
	}
	if limit < uint64(n)+256 {
		b.Fatalf("RLIMIT_NOFILE hard limit %d is too low for %d clients (raise ulimit -Hn)", limit, n)
	}
	for _, v := range []struct {
		kase, impl string
		start      func(ctx context.Context, base string, i int, cs *streamClients)
	}{
		{"ws", "sluice", startSluiceWS},
		{"ws", "raw-coder", startRawWS},
		{"ws", "sluice-no-heartbeat", startSluiceWSNoHeartbeat},
		{"sse", "sluice", startSluiceSSE},
		{"sse", "raw-nethttp", startRawSSE},
	} {
		b.Run(v.kase+"/"+v.impl, func(b *testing.B) {
			var mx streamMetrics
			for range b.N {
				streamCycle(b, n, v.kase, v.impl, v.start, &mx)
			}
			mx.report(b, n)
		})
	}
}

// streamsHeapProfile, when set, makes every cycle record every allocation
// and write the heap profile of its N idle clients to
// <streamsHeapProfile>-<case>-<implementation>.pprof: divide by N for one client.
var streamsHeapProfile = flag.String("streams.heapprofile", "", "write the Streams clients' heap profiles to `prefix`-case-impl.pprof")

// streamReconnectWindow is the backoff window of sluice's first redial, and
// the span of the histogram for every implementation.
const streamReconnectWindow = time.Second

const streamBuckets = 20

// streamClients is the state the N clients of one cycle share.
type streamClients struct {
	connected   atomic.Int64
	delivered   atomic.Int64
	dropAt      atomic.Int64   // UnixNano of the drop, 0 before it
	downAt      []atomic.Int64 // per client: UnixNano of its first disconnection after the drop
	dialAt      []atomic.Int64 // per client: UnixNano of its first dial after the drop
	reconnectAt []atomic.Int64 // per client: UnixNano of its first connection after the drop
	tr          *http.Transport
	wg          sync.WaitGroup
}

func (cs *streamClients) up(i int) {
	cs.connected.Add(1)
	if cs.dropAt.Load() != 0 {
		cs.reconnectAt[i].CompareAndSwap(0, time.Now().UnixNano())
	}
}

func (cs *streamClients) down(i int) {
	cs.connected.Add(-1)
	if cs.dropAt.Load() != 0 {
		cs.downAt[i].CompareAndSwap(0, time.Now().UnixNano())
	}
}

// dialing records the start of a connection attempt.
func (cs *streamClients) dialing(i int) {
	if cs.dropAt.Load() != 0 {
		cs.dialAt[i].CompareAndSwap(0, time.Now().UnixNano())
	}
}

// onState feeds a sluice client's state changes to cs.
func (cs *streamClients) onState(i int) func(stream.StateEvent) {
	connected := false
	return func(ev stream.StateEvent) {
		switch {
		case ev.State == stream.StateConnecting:
			cs.dialing(i)
		case ev.State == stream.StateConnected:
			connected = true
			cs.up(i)
		case connected:
			connected = false
			cs.down(i)
		}
	}
}

func sluiceStreamOptions[M any](cs *streamClients, i int) stream.Options[M] {
	return stream.Options[M]{
		Backoff:     retry.Schedule{Initial: streamReconnectWindow},
		StableAfter: time.Second,
		OnState:     cs.onState(i),
	}
}

func startSluiceWS(ctx context.Context, base string, i int, cs *streamClients) {
	c, err := stream.New[sws.Message](&sws.Dialer{URL: "ws://" + base + "/ws"}, sluiceStreamOptions[sws.Message](cs, i))
	if err != nil {
		panic(err)
	}
	cs.wg.Go(func() {
		_ = c.Run(ctx, func(context.Context, sws.Message) error { cs.delivered.Add(1); return nil })
	})
}

// startSluiceWSNoHeartbeat is startSluiceWS with liveness checks off
// (Heartbeat -1): no watchdog goroutine per connection. Not a target; it
// shows what the watchdog costs.
func startSluiceWSNoHeartbeat(ctx context.Context, base string, i int, cs *streamClients) {
	o := sluiceStreamOptions[sws.Message](cs, i)
	o.Heartbeat = -1
	c, err := stream.New[sws.Message](&sws.Dialer{URL: "ws://" + base + "/ws"}, o)
	if err != nil {
		panic(err)
	}
	cs.wg.Go(func() {
		_ = c.Run(ctx, func(context.Context, sws.Message) error { cs.delivered.Add(1); return nil })
	})
}

func startSluiceSSE(ctx context.Context, base string, i int, cs *streamClients) {
	c, err := stream.New[sse.Event](&sse.Dialer{URL: "http://" + base + "/sse"}, sluiceStreamOptions[sse.Event](cs, i))
	if err != nil {
		panic(err)
	}
	cs.wg.Go(func() {
		_ = c.Run(ctx, func(context.Context, sse.Event) error { cs.delivered.Add(1); return nil })
	})
}

func startRawWS(ctx context.Context, base string, i int, cs *streamClients) {
	cs.wg.Go(func() {
		for ctx.Err() == nil {
			cs.dialing(i)
			ws, _, err := websocket.Dial(ctx, "ws://"+base+"/ws", nil)
			if err != nil {
				continue // redial at once
			}
			ws.SetReadLimit(sws.DefaultReadLimit)
			cs.up(i)
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					break
				}
				cs.delivered.Add(1)
			}
			cs.down(i)
			_ = ws.CloseNow()
		}
	})
}

func startRawSSE(ctx context.Context, base string, i int, cs *streamClients) {
	client := &http.Client{Transport: cs.tr}
	cs.wg.Go(func() {
		for ctx.Err() == nil {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+base+"/sse", nil)
			if err != nil {
				panic(err)
			}
			req.Header.Set("Accept", "text/event-stream")
			cs.dialing(i)
			resp, err := client.Do(req)
			if err != nil {
				continue // redial at once
			}
			if resp.StatusCode != http.StatusOK {
				_ = resp.Body.Close()
				continue
			}
			cs.up(i)
			sc := bufio.NewScanner(resp.Body)
			data := false
			for sc.Scan() {
				switch line := sc.Text(); {
				case line == "":
					if data {
						cs.delivered.Add(1)
					}
					data = false
				case strings.HasPrefix(line, "data:"):
					data = true
				}
			}
			cs.down(i)
			_ = resp.Body.Close()
		}
	})
}

type streamMetrics struct {
	bytes, heap, stack, goroutines, cpu, delay50, p50, p99, done99, maxBucket []float64
}

func (m *streamMetrics) report(b *testing.B, n int) {
	b.ReportMetric(mean(m.bytes), "B/client")
	b.ReportMetric(mean(m.heap), "heap-B/client")
	b.ReportMetric(mean(m.stack), "stack-B/client")
	b.ReportMetric(mean(m.goroutines), "goroutines/client")
	b.ReportMetric(mean(m.cpu), "cpu-ns/msg")
	b.ReportMetric(mean(m.delay50), "redial-delay-p50-ms")
	b.ReportMetric(mean(m.p50), "redial-p50-ms")
	b.ReportMetric(mean(m.p99), "redial-p99-ms")
	b.ReportMetric(mean(m.done99), "reconnected-p99-ms")
	b.ReportMetric(mean(m.maxBucket), "max-bucket-%")
	b.ReportMetric(float64(n), "clients")
}

type memStat struct{ heap, stack int64 }

func memInUse() (memStat, int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStat{int64(ms.HeapInuse), int64(ms.StackInuse)}, runtime.NumGoroutine()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(b *testing.B, what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamCycle(b *testing.B, n int, kase, impl string, start func(context.Context, string, int, *streamClients), mx *streamMetrics) {
	srv := startStreamServer(b)
	serverCount := func() int {
		ws, sse := srv.count(b)
		if kase == "ws" {
			return ws
		}
		return sse
	}
	cs := &streamClients{downAt: make([]atomic.Int64, n), dialAt: make([]atomic.Int64, n), reconnectAt: make([]atomic.Int64, n)}
	if impl == "raw-nethttp" {
		cs.tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	if *streamsHeapProfile != "" {
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	mem0, g0 := memInUse()
	for i := range n {
		start(ctx, srv.data, i, cs)
	}
	waitFor(b, "all clients to connect", 3*time.Minute, func() bool {
		return cs.connected.Load() == int64(n) && serverCount() == n
	})
	time.Sleep(1500 * time.Millisecond) // idle, and past StableAfter
	mem1, g1 := memInUse()
	mx.bytes = append(mx.bytes, float64(mem1.heap+mem1.stack-mem0.heap-mem0.stack)/float64(n))
	mx.heap = append(mx.heap, float64(mem1.heap-mem0.heap)/float64(n))
	mx.stack = append(mx.stack, float64(mem1.stack-mem0.stack)/float64(n))
	mx.goroutines = append(mx.goroutines, float64(g1-g0)/float64(n))
	if *streamsHeapProfile != "" {
		f, err := os.Create(*streamsHeapProfile + "-" + kase + "-" + impl + ".pprof")
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
	}

	const total, size = 100000, 128
	m := total / n
	cpu0 := cpuTime()
	srv.call(b, fmt.Sprintf("/broadcast?m=%d&size=%d", m, size))
	waitFor(b, "the broadcast", 3*time.Minute, func() bool { return cs.delivered.Load() == int64(n*m) })
	mx.cpu = append(mx.cpu, float64(cpuTime()-cpu0)/float64(n*m))

	drop := time.Now()
	cs.dropAt.Store(drop.UnixNano())
	srv.call(b, "/drop")
	dropTook := time.Since(drop)
	waitFor(b, "all clients to reconnect", 3*time.Minute, func() bool {
		for i := range cs.reconnectAt {
			if cs.reconnectAt[i].Load() == 0 {
				return false
			}
		}
		return cs.connected.Load() == int64(n)
	})
	delay := make([]time.Duration, n) // from its disconnection to its first dial
	after := make([]time.Duration, n) // from the drop to its first dial
	done := make([]time.Duration, n)  // from the drop to its first connection
	for i := range cs.reconnectAt {
		delay[i] = time.Duration(cs.dialAt[i].Load() - cs.downAt[i].Load())
		after[i] = time.Duration(cs.dialAt[i].Load() - drop.UnixNano())
		done[i] = time.Duration(cs.reconnectAt[i].Load() - drop.UnixNano())
	}
	slices.Sort(delay)
	slices.Sort(after)
	slices.Sort(done)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	mx.delay50 = append(mx.delay50, float64(delay[n/2])/1e6)
	mx.p50 = append(mx.p50, float64(after[n/2])/1e6)
	mx.p99 = append(mx.p99, float64(after[n*99/100])/1e6)
	mx.done99 = append(mx.done99, float64(done[n*99/100])/1e6)
	delayHist, maxShare := streamHistogram(delay, streamReconnectWindow)
	mx.maxBucket = append(mx.maxBucket, maxShare)
	span := max(streamReconnectWindow, after[n-1].Truncate(time.Second)+time.Second)
	afterHist, _ := streamHistogram(after, span)
	b.Logf("reconnect wave, %s/%s, %d clients (the server took %v to close them all and listen again)\n"+
		"      delay from each client's disconnection to its first dial (p50 %v, p99 %v, max %v):\n%s"+
		"      arrivals at the server: time from the drop to each client's first dial (p50 %v, p99 %v, max %v); connected again p50 %v, p99 %v, max %v:\n%s",
		kase, impl, n, ms(dropTook),
		ms(delay[n/2]), ms(delay[n*99/100]), ms(delay[n-1]), delayHist,
		ms(after[n/2]), ms(after[n*99/100]), ms(after[n-1]), ms(done[n/2]), ms(done[n*99/100]), ms(done[n-1]), afterHist)

	cancel()
	stopped := make(chan struct{})
	go func() { cs.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		b.Fatal("clients did not stop within a minute")
	}
	if cs.tr != nil {
		cs.tr.CloseIdleConnections()
	}
}

// streamHistogram draws the durations in streamBuckets buckets over window,
// with one more line for those longer, and returns the largest share of the
// clients in one of the buckets, in percent.
func streamHistogram(after []time.Duration, window time.Duration) (string, float64) {
	width := window / streamBuckets
	counts := make([]int, streamBuckets+1)
	for _, d := range after {
		k := min(int(d/width), streamBuckets)
		counts[k]++
	}
	top := slices.Max(counts)
	var sb strings.Builder
	maxShare := 0.0
	for k, c := range counts {
		label := fmt.Sprintf("%4d–%4d ms", time.Duration(k)*width/time.Millisecond, time.Duration(k+1)*width/time.Millisecond)
		if k == streamBuckets {
			label = fmt.Sprintf("   ≥ %4d ms", window/time.Millisecond)
		} else {
			maxShare = max(maxShare, 100*float64(c)/float64(len(after)))
		}
		bar := strings.Repeat("#", (c*50+top-1)/max(top, 1))
		fmt.Fprintf(&sb, "        %s %6d %5.1f%% %s\n", label, c, 100*float64(c)/float64(len(after)), bar)
	}
	return sb.String(), maxShare
}

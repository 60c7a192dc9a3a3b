// Command report turns `go test -bench` output of the bench module into one
// table per area: each implementation's median ns/op and allocs/op, and the
// ratio sluice/peer measured in the same run. It checks the targets sluice
// states, exits with status 1 when one is missed, and can draw the workqueue
// throughput chart as SVG.
//
//	go test -bench . -count 5 | go run ./cmd/report -svg workqueue.svg
//
// Benchmark names follow Benchmark<Area>/<case>/<implementation>; the
// implementation named "sluice" is the one compared.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// sample holds the values of one benchmark over its runs: ns/op,
// allocs/op, and any custom metric (b.ReportMetric) by its unit.
type sample struct {
	area, kase, impl string
	ns, allocs       []float64
	metrics          map[string][]float64
	units            []string // of metrics, in first-seen order
}

func (s *sample) nsMedian() float64     { return median(s.ns) }
func (s *sample) allocsMedian() float64 { return median(s.allocs) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

var line = regexp.MustCompile(`^Benchmark([^/\s]+)/(\S+)/([^/\s]+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// parse reads benchmark lines and returns the samples in first-seen order.
func parse(r io.Reader) ([]*sample, error) {
	byName := map[string]*sample{}
	var order []*sample
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := m[1] + "/" + m[2] + "/" + m[3]
		s := byName[key]
		if s == nil {
			s = &sample{area: m[1], kase: m[2], impl: m[3]}
			byName[key] = s
			order = append(order, s)
		}
		fields := strings.Fields(m[4])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			case "B/op", "MB/s":
			default:
				if s.metrics == nil {
					s.metrics = map[string][]float64{}
				}
				if _, ok := s.metrics[fields[i+1]]; !ok {
					s.units = append(s.units, fields[i+1])
				}
				s.metrics[fields[i+1]] = append(s.metrics[fields[i+1]], v)
			}
		}
	}
	return order, sc.Err()
}

// target is one stated performance goal: sluice's ns/op divided by the
// peer's must not exceed maxRatio, and sluice's allocs/op must not exceed
// maxAllocs (negative: not checked). peer "*" means every other implementation
// in the same case except those listed in except. A target with a metric
// and no peer instead bounds the median of sluice's own custom metric by
// maxMetric; with a metric and a peer, it bounds the ratio of the two medians
// of that metric by maxRatio or, when diff is set, their difference by
// maxMetric. An info target is printed with its ratio but never missed.
type target struct {
	area, kase, peer string
	except           []string
	maxRatio         float64
	maxAllocs        float64
	metric           string
	maxMetric        float64
	diff             bool
	info             bool
	says             string
}

var targets = []target{
	{area: "Retry", kase: "first-try", peer: "*", maxRatio: 1, maxAllocs: 0, says: "faster than every peer, 0 allocs/op"},
	{area: "Breaker", kase: "allow-done-consecutive-serial", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Breaker", kase: "allow-done-consecutive-parallel", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Breaker", kase: "execute-consecutive-serial", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Breaker", kase: "execute-consecutive-parallel", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Breaker", kase: "allow-done-rate-serial", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Breaker", kase: "allow-done-rate-parallel", peer: "*", maxRatio: 1, maxAllocs: 0, says: "closed path faster than gobreaker and failsafe-go, 0 allocs/op"},
	{area: "Semaphore", kase: "uncontended", peer: "x-sync-semaphore", maxRatio: 1.1, maxAllocs: 0, says: "≤ 1.1× x/sync/semaphore, 0 allocs/op"},
	{area: "Semaphore", kase: "contended", peer: "x-sync-semaphore", maxRatio: 1.0, maxAllocs: -1, says: "not slower than x/sync/semaphore"},
	{area: "Workqueue", kase: "noop-1sub-8w", peer: "channel", maxRatio: 1.5, maxAllocs: 0, says: "≤ 1.5× the plain channel, 0 allocs/op"},
	{area: "Workqueue", kase: "noop-1sub-8w", peer: "*", except: []string{"channel"}, maxRatio: 1, maxAllocs: -1, says: "faster than every peer"},
	{area: "Fetch", kase: "10k-1KiB-c64", peer: "handwritten", maxRatio: 1 / 0.9, maxAllocs: -1, says: "≥ 0.9× the hand-written loop's throughput"},
	{area: "Fetch", kase: "10k-1KiB-c64", peer: "*", except: []string{"handwritten"}, maxRatio: 1, maxAllocs: -1, says: "faster than colly and retryablehttp"},
	{area: "FetchMix", kase: "5k-mix-c64", metric: "batch/slowest", maxMetric: 1.2, says: "batch wall time ≤ 1.2× its slowest URL's own time"},
	{area: "WebSocket", kase: "128B", peer: "raw-coder", maxRatio: 1 / 0.9, maxAllocs: -1, says: "≥ 0.9× the raw read loop"},
	{area: "WebSocket", kase: "4KiB", peer: "raw-coder", maxRatio: 1 / 0.9, maxAllocs: -1, says: "≥ 0.9× the raw read loop"},
	{area: "Streams", kase: "ws", peer: "raw-coder", metric: "B/client", maxRatio: 1.25, says: "≤ 1.25× the raw loop's memory per idle client"},
	{area: "Streams", kase: "ws", peer: "raw-coder", metric: "goroutines/client", diff: true, maxMetric: 1, says: "≤ 1 goroutine per client above the raw loop"},
	{area: "Streams", kase: "ws", peer: "raw-coder", metric: "cpu-ns/msg", info: true, says: "CPU per message under a broadcast (no target)"},
	{area: "Streams", kase: "ws", metric: "max-bucket-%", maxMetric: 10, says: "reconnect wave spread over the 1s backoff window: no 50ms bucket holds > 10% of the clients (uniform: 5%)"},
	{area: "Streams", kase: "sse", peer: "raw-nethttp", metric: "B/client", maxRatio: 1.25, says: "≤ 1.25× the raw loop's memory per idle client"},
	{area: "Streams", kase: "sse", peer: "raw-nethttp", metric: "goroutines/client", diff: true, maxMetric: 1, says: "≤ 1 goroutine per client above the raw loop"},
	{area: "Streams", kase: "sse", peer: "raw-nethttp", metric: "cpu-ns/msg", info: true, says: "CPU per message under a broadcast (no target)"},
	{area: "Streams", kase: "sse", metric: "max-bucket-%", maxMetric: 10, says: "reconnect wave spread over the 1s backoff window: no 50ms bucket holds > 10% of the clients (uniform: 5%)"},
	{area: "Scraper", kase: "5k-mix-c64", peer: "aiohttp-tutorial", maxRatio: 0.7, maxAllocs: -1, says: "wall time ≤ 0.7× the tutorial's aiohttp scraper"},
	{area: "Scraper", kase: "5k-mix-c64", peer: "aiohttp-tutorial", metric: "cpu-ms", maxRatio: 0.35, says: "CPU time ≤ 0.35× the tutorial's aiohttp scraper"},
	{area: "Scraper", kase: "5k-mix-c64", peer: "aiohttp-tutorial", metric: "maxrss-MB", info: true, says: "peak RSS (no target)"},
	{area: "Scraper", kase: "5k-mix-c64", peer: "aiohttp-tutorial", metric: "conns", info: true, says: "connections opened (no target)"},
}

// check returns one line per target that applies to the samples, and whether
// all of them were met.
func check(samples []*sample) ([]string, bool) {
	find := func(area, kase, impl string) *sample {
		for _, s := range samples {
			if s.area == area && s.kase == kase && s.impl == impl {
				return s
			}
		}
		return nil
	}
	var lines []string
	ok := true
	for _, t := range targets {
		me := find(t.area, t.kase, "sluice")
		if me == nil {
			continue
		}
		if t.metric != "" && t.peer != "" {
			peer := find(t.area, t.kase, t.peer)
			if peer == nil {
				continue
			}
			v, have := me.metrics[t.metric]
			pv, peerHas := peer.metrics[t.metric]
			if !have || !peerHas {
				continue
			}
			mine, theirs := median(v), median(pv)
			var detail string
			bad := false
			if t.diff {
				detail = fmt.Sprintf("%s %s vs %s %s, %+.3g", t.metric, num(mine), t.peer, num(theirs), mine-theirs)
				bad = mine-theirs > t.maxMetric
			} else {
				detail = fmt.Sprintf("%s %s vs %s %s, %.2f×", t.metric, num(mine), t.peer, num(theirs), mine/theirs)
				bad = mine/theirs > t.maxRatio
			}
			verdict := "met"
			switch {
			case t.info:
				verdict = "info"
			case bad:
				verdict = "MISSED"
				ok = false
			}
			lines = append(lines, fmt.Sprintf("%-7s %s %s: %s (%s)", verdict, t.area, t.kase, t.says, detail))
			continue
		}
		if t.metric != "" {
			v, have := me.metrics[t.metric]
			if !have {
				continue
			}
			verdict := "met"
			if median(v) > t.maxMetric {
				verdict = "MISSED"
				ok = false
			}
			lines = append(lines, fmt.Sprintf("%-7s %s %s: %s (%s %.2f)", verdict, t.area, t.kase, t.says, t.metric, median(v)))
			continue
		}
		var peers []*sample
		for _, s := range samples {
			if s.area == t.area && s.kase == t.kase && s.impl != "sluice" &&
				(t.peer == s.impl || t.peer == "*" && !slices.Contains(t.except, s.impl)) {
				peers = append(peers, s)
			}
		}
		met := true
		var detail []string
		for _, p := range peers {
			r := me.nsMedian() / p.nsMedian()
			if r > t.maxRatio {
				met = false
			}
			detail = append(detail, fmt.Sprintf("%s %.2f×", p.impl, r))
		}
		if t.maxAllocs >= 0 && me.allocsMedian() > t.maxAllocs {
			met = false
			detail = append(detail, fmt.Sprintf("%.0f allocs/op", me.allocsMedian()))
		}
		if len(peers) == 0 {
			continue
		}
		verdict := "met"
		if !met {
			verdict = "MISSED"
			ok = false
		}
		lines = append(lines, fmt.Sprintf("%-7s %s %s: %s (%s)", verdict, t.area, t.kase, t.says, strings.Join(detail, ", ")))
	}
	return lines, ok
}

// table writes one markdown table per area.
func table(w io.Writer, samples []*sample) {
	var areas []string
	for _, s := range samples {
		if !slices.Contains(areas, s.area) {
			areas = append(areas, s.area)
		}
	}
	for _, area := range areas {
		var units []string // the area's custom metrics
		for _, s := range samples {
			for _, u := range s.units {
				if s.area == area && !slices.Contains(units, u) {
					units = append(units, u)
				}
			}
		}
		fmt.Fprintf(w, "\n### %s\n\n| case | implementation | ns/op (median) | allocs/op | sluice/this |", area)
		for _, u := range units {
			fmt.Fprintf(w, " %s |", u)
		}
		fmt.Fprintf(w, "\n|---|---|---:|---:|---:|%s\n", strings.Repeat("---:|", len(units)))
		for _, s := range samples {
			if s.area != area {
				continue
			}
			ratio := "—"
			for _, me := range samples {
				if me.area == area && me.kase == s.kase && me.impl == "sluice" && s.impl != "sluice" && s.nsMedian() > 0 {
					ratio = fmt.Sprintf("%.2f×", me.nsMedian()/s.nsMedian())
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.0f | %s |", s.kase, s.impl, human(s.nsMedian()), s.allocsMedian(), ratio)
			for _, u := range units {
				if v, ok := s.metrics[u]; ok {
					fmt.Fprintf(w, " %s |", num(median(v)))
				} else {
					fmt.Fprint(w, " — |")
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// num prints a metric: whole numbers from 100 up, 3 significant digits below.
func num(v float64) string {
	if v >= 100 || v <= -100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func human(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f ns", ns)
	}
}

func main() {
	svgPath := flag.String("svg", "", "write the workqueue throughput chart to this file")
	scalingPath := flag.String("scaling-svg", "", "write the scaling curve chart (Scaling area) to this file")
	title := flag.String("title", "", "a line naming the machine and date, printed above the tables and in the chart")
	flag.Parse()
	samples, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
	if len(samples) == 0 {
		fmt.Fprintln(os.Stderr, "report: no benchmark lines on stdin")
		os.Exit(2)
	}
	if *title != "" {
		fmt.Println(*title)
	}
	table(os.Stdout, samples)
	lines, ok := check(samples)
	fmt.Println("\n### Targets")
	fmt.Println()
	for _, l := range lines {
		fmt.Println("    " + l)
	}
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(chart(samples, *title)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(2)
		}
	}
	if *scalingPath != "" {
		if err := os.WriteFile(*scalingPath, []byte(scalingChart(samples, *title)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(2)
		}
	}
	if !ok {
		os.Exit(1)
	}
}

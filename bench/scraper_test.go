package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// BenchmarkScraper runs two scrapers as child processes on FetchMix's
// workload (5 000 URLs over three loopback hosts served by this process: 89 %
// 1 KiB pages, 5 % 404, 3 % 503 with Retry-After: 1 once, 2 % pages answered
// after 250ms, 1 % connections reset), concurrency 64:
//
//   - sluice: bench/cmd/scrape, fetch.Fetcher.All with Concurrency and
//     PerHost 64, default retries;
//   - aiohttp-tutorial: bench/tutorial/scraper.py, the tutorial's asyncio
//     scraper (see its doc string).
//
// ns/op is the child's wall time, from start to exit (Python's start-up
// included, about 0.1–0.2s; Go's binary is built beforehand). cpu-ms is
// the child's user+system time and maxrss-MB its peak RSS (getrusage of the
// child), conns the connections the three servers accepted. Every outcome is
// a metric of its own (ok, http-404, conn-error, ...): both scrapers must
// report every failure, and the counts are compared in the table.
//
// Skipped when python3 cannot import aiohttp (Debian/Ubuntu:
// apt-get install -y python3-aiohttp).
func BenchmarkScraper(b *testing.B) {
	const kase = "5k-mix-c64/"
	bin := filepath.Join(b.TempDir(), "scrape")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/scrape").CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/scrape: %v\n%s", err, out)
	}
	b.Run(kase+"sluice", func(b *testing.B) {
		runScraper(b, bin, "-c", fmt.Sprint(mixConcurrency))
	})
	b.Run(kase+"aiohttp-tutorial", func(b *testing.B) {
		py := pythonWithAiohttp()
		if py == "" {
			b.Skip("python3 with aiohttp is not installed (Debian/Ubuntu: apt-get install -y python3-aiohttp; or set BENCH_PYTHON)")
		}
		runScraper(b, py, "tutorial/scraper.py", "-c", fmt.Sprint(mixConcurrency))
	})
}

// pythonWithAiohttp returns the first of $BENCH_PYTHON, python3 on PATH and
// /usr/bin/python3 (Debian's, which python3-aiohttp installs into, when
// PATH finds another one first, such as pyenv's) that imports aiohttp, or "".
func pythonWithAiohttp() string {
	for _, py := range []string{os.Getenv("BENCH_PYTHON"), "python3", "/usr/bin/python3"} {
		if py != "" && exec.Command(py, "-c", "import aiohttp").Run() == nil {
			return py
		}
	}
	return ""
}

func runScraper(b *testing.B, name string, args ...string) {
	m := newMixServer(b)
	var cpu, rss, conns []float64
	outcomes := map[string][]float64{}
	b.ResetTimer()
	for n := range b.N {
		urls := m.urls(n)
		conns0 := m.conns.Load()
		cmd := exec.Command(name, args...)
		cmd.Stdin = strings.NewReader(strings.Join(urls, "\n") + "\n")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu = append(cpu, float64(ru.Utime.Nano()+ru.Stime.Nano())/1e6)
		rss = append(rss, float64(ru.Maxrss)/1024) // KiB on Linux
		conns = append(conns, float64(m.conns.Load()-conns0))
		var counts map[string]int
		if err := json.Unmarshal(stdout.Bytes(), &counts); err != nil {
			b.Fatalf("%s printed %q: %v", name, stdout.String(), err)
		}
		total := 0
		for k, v := range counts {
			outcomes[k] = append(outcomes[k], float64(v))
			total += v
		}
		if total != len(urls) {
			b.Fatalf("%s reported %d outcomes for %d URLs: %v", name, total, len(urls), counts)
		}
	}
	b.StopTimer()
	b.ReportMetric(mean(cpu), "cpu-ms")
	b.ReportMetric(mean(rss), "maxrss-MB")
	b.ReportMetric(mean(conns), "conns")
	keys := make([]string, 0, len(outcomes))
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.ReportMetric(mean(outcomes[k]), k)
	}
}

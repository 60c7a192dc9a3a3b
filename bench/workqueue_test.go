package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/gammazero/workerpool"
	"github.com/panjf2000/ants/v2"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/workqueue"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

// pool is what each implementation must provide: submit one job (blocking
// while full, where the implementation has a bound), then wait for all and
// release every goroutine.
type workPool interface {
	submit(job int)
	finish()
}

type poolMaker struct {
	name string
	new  func(workers, capacity int, work func(int)) workPool
}

var poolMakers = []poolMaker{
	{"sluice", newSluicePool},
	{"channel", newChannelPool},
	{"pond-v2", newPondPool},
	{"ants-v2", newAntsPool},
	{"conc-pool", newConcPool},
	{"errgroup", newErrgroupPool},
	{"gammazero-workerpool", newGammazeroPool},
}

// BenchmarkWorkqueue measures the cost per job from submission to completion.
// Cases: noop or 10µs of CPU work per job, 1 or 4 submitting goroutines, 8 or
// 64 workers; a buffer of 2×workers where the implementation has one.
func BenchmarkWorkqueue(b *testing.B) {
	works := []struct {
		name string
		fn   func(int)
	}{{"noop", func(int) {}}, {"10us", spin10us}}
	for _, work := range works {
		for _, submitters := range []int{1, 4} {
			for _, workers := range []int{8, 64} {
				for _, pm := range poolMakers {
					name := fmt.Sprintf("%s-%dsub-%dw/%s", work.name, submitters, workers, pm.name)
					b.Run(name, func(b *testing.B) {
						b.ReportAllocs()
						p := pm.new(workers, 2*workers, work.fn)
						b.ResetTimer()
						submitAll(b.N, submitters, p)
						p.finish()
					})
				}
			}
		}
	}
}

func submitAll(n, submitters int, p workPool) {
	if submitters == 1 {
		for i := range n {
			p.submit(i)
		}
		return
	}
	var wg sync.WaitGroup
	for s := range submitters {
		wg.Go(func() {
			for i := s; i < n; i += submitters {
				p.submit(i)
			}
		})
	}
	wg.Wait()
}

// spin10us burns about 10µs of CPU.
func spin10us(int) {
	for start := time.Now(); time.Since(start) < 10*time.Microsecond; {
	}
}

type sluicePool struct{ q *workqueue.Queue[int] }

func newSluicePool(workers, capacity int, work func(int)) workPool {
	q, err := workqueue.New(func(_ context.Context, j int) error { work(j); return nil },
		workqueue.Options[int]{Workers: workers, Capacity: capacity, Retry: retry.NoRetry()})
	if err != nil {
		panic(err)
	}
	return &sluicePool{q}
}

func (p *sluicePool) submit(j int) {
	if err := p.q.Submit(context.Background(), j); err != nil {
		panic(err)
	}
}

func (p *sluicePool) finish() {
	if err := p.q.Shutdown(context.Background()); err != nil {
		panic(err)
	}
}

// channelPool is the floor: a buffered channel feeding N goroutines.
type channelPool struct {
	ch chan int
	wg sync.WaitGroup
}

func newChannelPool(workers, capacity int, work func(int)) workPool {
	p := &channelPool{ch: make(chan int, capacity)}
	for range workers {
		p.wg.Go(func() {
			for j := range p.ch {
				work(j)
			}
		})
	}
	return p
}

func (p *channelPool) submit(j int) { p.ch <- j }
func (p *channelPool) finish()      { close(p.ch); p.wg.Wait() }

type pondPool struct {
	p    pond.Pool
	work func(int)
}

func newPondPool(workers, capacity int, work func(int)) workPool {
	return &pondPool{pond.NewPool(workers, pond.WithQueueSize(capacity)), work}
}

func (p *pondPool) submit(j int) {
	if err := p.p.Go(func() { p.work(j) }); err != nil {
		panic(err)
	}
}
func (p *pondPool) finish() { p.p.StopAndWait() }

type antsPool struct {
	p  *ants.PoolWithFuncGeneric[int]
	wg sync.WaitGroup
}

func newAntsPool(workers, _ int, work func(int)) workPool {
	ap := &antsPool{}
	p, err := ants.NewPoolWithFuncGeneric(workers, func(j int) { work(j); ap.wg.Done() })
	if err != nil {
		panic(err)
	}
	ap.p = p
	return ap
}

func (p *antsPool) submit(j int) {
	p.wg.Add(1)
	if err := p.p.Invoke(j); err != nil {
		panic(err)
	}
}

func (p *antsPool) finish() {
	p.wg.Wait()
	if err := p.p.ReleaseTimeout(10 * time.Second); err != nil {
		panic(err)
	}
}

type concPool struct {
	p    *pool.Pool
	work func(int)
}

func newConcPool(workers, _ int, work func(int)) workPool {
	return &concPool{pool.New().WithMaxGoroutines(workers), work}
}

func (p *concPool) submit(j int) { p.p.Go(func() { p.work(j) }) }
func (p *concPool) finish()      { p.p.Wait() }

type errgroupPool struct {
	g    errgroup.Group
	work func(int)
}

func newErrgroupPool(workers, _ int, work func(int)) workPool {
	p := &errgroupPool{work: work}
	p.g.SetLimit(workers)
	return p
}

func (p *errgroupPool) submit(j int) { p.g.Go(func() error { p.work(j); return nil }) }
func (p *errgroupPool) finish() {
	if err := p.g.Wait(); err != nil {
		panic(err)
	}
}

type gammazeroPool struct {
	p    *workerpool.WorkerPool
	work func(int)
}

func newGammazeroPool(workers, _ int, work func(int)) workPool {
	return &gammazeroPool{workerpool.New(workers), work}
}

func (p *gammazeroPool) submit(j int) { p.p.Submit(func() { p.work(j) }) }
func (p *gammazeroPool) finish()      { p.p.StopWait() }

// TestEveryPoolRunsEveryJob keeps the adapters honest: each one runs every
// submitted job exactly once before finish returns.
func TestEveryPoolRunsEveryJob(t *testing.T) {
	for _, pm := range poolMakers {
		t.Run(pm.name, func(t *testing.T) {
			const n = 2000
			var mu sync.Mutex
			seen := make(map[int]int, n)
			p := pm.new(8, 16, func(j int) { mu.Lock(); seen[j]++; mu.Unlock() })
			submitAll(n, 4, p)
			p.finish()
			if len(seen) != n {
				t.Fatalf("%s ran %d distinct jobs, want %d", pm.name, len(seen), n)
			}
			for j, c := range seen {
				if c != 1 {
					t.Fatalf("%s ran job %d %d times", pm.name, j, c)
				}
			}
		})
	}
}

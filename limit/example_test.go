package limit_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sluicego/sluice/limit"
	"golang.org/x/time/rate"
)

func ExampleSemaphore() {
	ctx := context.Background()
	sem := limit.NewSemaphore(10) // e.g. 10 MB of buffer space

	// Weighted: a big job takes more permits.
	if err := sem.Acquire(ctx, 8); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("small fits:", sem.TryAcquire(2))
	fmt.Println("more fits:", sem.TryAcquire(1))

	// Asking for more than the limit fails at once instead of hanging.
	err := sem.Acquire(ctx, 11)
	fmt.Println(err)

	sem.SetLimit(12) // resizable
	fmt.Printf("%+v\n", sem.Stats())
	sem.Release(8)
	sem.Release(2)
	// Output:
	// small fits: true
	// more fits: false
	// limit: request exceeds the semaphore limit: acquire 11, limit 10
	// {Limit:12 InUse:10 Waiting:0}
}

func ExampleKeyed() {
	perHost := limit.NewKeyed[string](2) // at most 2 requests per host at once
	ctx := context.Background()

	var wg sync.WaitGroup
	for _, host := range []string{"a.example", "a.example", "b.example", "a.example"} {
		wg.Go(func() {
			release, err := perHost.Acquire(ctx, host)
			if err != nil {
				return
			}
			defer release()
			// ... fetch from host ...
		})
	}
	wg.Wait()
	fmt.Println("live keys after all releases:", perHost.Len())
	// Output:
	// live keys after all releases: 0
}

func ExampleKeyedRate() {
	// One request per second per host, with bursts of 2.
	perHost := limit.NewKeyedRate[string](rate.Every(time.Second), 2, 0)
	fmt.Println(perHost.Allow("a.example"), perHost.Allow("a.example"), perHost.Allow("a.example"))
	fmt.Println(perHost.Allow("b.example"))

	// A minimum delay between requests to the same host.
	polite := limit.NewKeyedDelay[string](500*time.Millisecond, 0)
	fmt.Println(polite.Wait(context.Background(), "a.example")) // the first passes at once
	// Output:
	// true true false
	// true
	// <nil>
}

func ExampleAIMD() {
	a, err := limit.NewAIMD(limit.AIMDOptions{Min: 1, Max: 50, Initial: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	request := func(overloaded bool) {
		if err := a.Acquire(ctx); err != nil {
			return
		}
		defer a.Release()
		if overloaded { // e.g. 429, 503 or a timeout
			a.Overload()
		} else {
			a.Success()
		}
	}
	for range 10 {
		request(false)
	}
	fmt.Println("after 10 successes:", a.Limit())
	request(true)
	fmt.Println("after an overload:", a.Limit())
	// Output:
	// after 10 successes: 11
	// after an overload: 5
}

func ExampleNewKeyedFunc() {
	caps := map[string]int64{"fragile.example": 1} // everyone else: 4
	perHost := limit.NewKeyedFunc(func(host string) int64 {
		if n, ok := caps[host]; ok {
			return n
		}
		return 4
	})
	fmt.Println(perHost.Limit("fragile.example"), perHost.Limit("www.example"))

	release, _ := perHost.TryAcquire("fragile.example")
	_, ok := perHost.TryAcquire("fragile.example")
	fmt.Println("second fragile request admitted:", ok)
	release()
	fmt.Println("live keys after release:", perHost.Len())
	// Output:
	// 1 4
	// second fragile request admitted: false
	// live keys after release: 0
}

func ExampleNewKeyedDelay() {
	// At most one request per host every 200ms; other hosts are not held up.
	pace := limit.NewKeyedDelay[string](200*time.Millisecond, time.Minute)
	fmt.Println(pace.Allow("a.example"), pace.Allow("a.example"), pace.Allow("b.example"))
	// Output: true false true
}

func ExampleNewAdaptiveKeyed() {
	hosts, err := limit.NewAdaptiveKeyed[string](limit.AIMDOptions{Min: 1, Initial: 4, Max: 16})
	if err != nil {
		panic(err)
	}
	release, err := hosts.Acquire(context.Background(), "api.example")
	if err != nil {
		panic(err)
	}
	hosts.Overload("api.example") // e.g. the response was 429 or 503
	release()
	fmt.Println(hosts.Limit("api.example"))
	// Output: 2
}

package limit

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Limit looked a key's entry up and read its semaphore after dropping the
// Keyed lock. Meanwhile the entry could be deleted, recycled for another key
// and given that key's cap: a data race, and Limit reported the other key's
// cap.
func TestKeyedFuncLimitNeverReportsARecycledEntrysCap(t *testing.T) {
	capOf := func(key int) int64 { return int64(key + 1) }
	k := NewKeyedFunc(capOf)
	var stop atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for key := range 4 {
		wg.Go(func() {
			for !stop.Load() {
				if release, ok := k.TryAcquire(key); ok {
					release()
				}
			}
		})
		wg.Go(func() {
			for !stop.Load() {
				if got := k.Limit(key); got != capOf(key) {
					wrong.Add(1)
				}
			}
		})
	}
	for range 5000 {
		if release, ok := k.TryAcquire(99); ok {
			release()
		}
	}
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, wrong.Load(), "Limit returned another key's cap")
}

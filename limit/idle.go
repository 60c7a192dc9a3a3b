package limit

import "time"

// idleSweep evicts per-key entries that have gone idle, without a goroutine:
// the owner calls sweep under its own lock during calls it makes anyway, and
// the map is scanned at most once per period, so the scan's cost is spread
// over the calls in between. An entry idle for period is evicted between
// period and 2×period after its last use. [Keyed] (adaptive), [KeyedRate]
// and [KeyedBreaker] forget idle keys through it.
type idleSweep[K comparable, E any] struct {
	period time.Duration
	idle   func(e E, now time.Time) bool // reports whether e may be evicted at now
	last   time.Time                     // of the last scan
}

// sweep deletes the idle entries of entries if a scan is due at now.
func (s *idleSweep[K, E]) sweep(entries map[K]E, now time.Time) {
	if now.Sub(s.last) < s.period {
		return
	}
	s.last = now
	for key, e := range entries {
		if s.idle(e, now) {
			delete(entries, key)
		}
	}
}

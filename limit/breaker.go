package limit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a circuit breaker.
type BreakerState int

const (
	// BreakerClosed lets every call through and counts failures.
	BreakerClosed BreakerState = iota
	// BreakerOpen rejects every call until its cool-down ends.
	BreakerOpen
	// BreakerHalfOpen lets a bounded number of probe calls through; their
	// results decide whether the breaker closes or opens again.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// Defaults of [BreakerOptions].
const (
	DefaultBreakerMinCalls            = 20
	DefaultBreakerWindow              = 10 * time.Second
	DefaultBreakerConsecutiveFailures = 5
	DefaultBreakerCoolDown            = 5 * time.Second
	DefaultBreakerIdle                = time.Minute
)

// breakerBuckets is the number of buckets of the sliding window.
const breakerBuckets = 10

// BreakerOptions configures a [Breaker] or a [KeyedBreaker]. The zero value
// is valid: a breaker that opens after 5 failures in a row, for 5 to 6
// seconds, then lets one probe call through.
type BreakerOptions struct {
	// FailureRate, in (0, 1], trips the breaker when a failure is reported
	// and, counting that failure, at least MinCalls calls were reported in
	// the last Window of which a fraction >= FailureRate failed. 0 turns the
	// rule off (and no window is kept).
	FailureRate float64
	// MinCalls is the number of calls the window must hold before
	// FailureRate applies. Default 20 when FailureRate is set.
	MinCalls int
	// Window is the span of the sliding window FailureRate is measured
	// over, kept in 10 buckets of Window/10: a call is forgotten between
	// 0.9×Window and Window after it was reported. Default 10s. It must be
	// at least 10ns.
	Window time.Duration
	// ConsecutiveFailures trips the breaker once that many failures were
	// reported in a row (a success resets the count). 0 turns the rule off;
	// if FailureRate is 0 too, the default 5 applies.
	ConsecutiveFailures int
	// CoolDown is how long the breaker stays open before it turns
	// half-open. Each opening draws its duration uniformly from
	// [CoolDown, CoolDown×1.2] (up to +20% jitter, so that breakers that
	// opened together do not probe together). Default 5s.
	CoolDown time.Duration
	// HalfOpenProbes is the number of calls admitted while half-open.
	// Default 1. All of them must succeed to close the breaker; the first
	// failure opens it again, with a new cool-down.
	HalfOpenProbes int
	// IsFailure tells [Breaker.Do] which errors of fn count as failures.
	// nil: every non-nil error except one matching context.Canceled. An
	// error that is not a failure counts as a success, except one matching
	// context.Canceled, which counts as neither (see [Permit.Cancel]).
	IsFailure func(error) bool
	// OnStateChange, if set, is called after each change of state. Calls
	// are serialized, made in the order of the changes, exactly once per
	// change, and never with a lock of the breaker held, so OnStateChange
	// may call any method of the breaker. The call is made synchronously
	// by the goroutine whose Allow, Done, Cancel, Do, State or Stats made
	// the change, unless another goroutine is running OnStateChange at
	// that moment: that goroutine then makes the call once its own
	// returns. So OnStateChange should be quick. [NewKeyedBreaker] rejects
	// it; use OnKeyStateChange.
	OnStateChange func(from, to BreakerState)
	// OnKeyStateChange is OnStateChange for a [KeyedBreaker]: the same
	// guarantees per key, with the key (of the KeyedBreaker's type K) as
	// first argument. [NewBreaker] rejects it.
	OnKeyStateChange func(key any, from, to BreakerState)
	// Idle applies to a [KeyedBreaker] only: a key's breaker unused for
	// Idle is forgotten, unless it is open with its cool-down still
	// running, between Idle and 2×Idle after its last use. Default 1
	// minute. [NewBreaker] ignores it.
	Idle time.Duration
}

// normalize applies defaults and validates o.
func (o BreakerOptions) normalize() (BreakerOptions, error) {
	invalid := func(format string, args ...any) (BreakerOptions, error) {
		return o, fmt.Errorf("%w: BreakerOptions."+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	switch {
	case math.IsNaN(o.FailureRate) || o.FailureRate < 0 || o.FailureRate > 1:
		return invalid("FailureRate %v not in (0, 1]", o.FailureRate)
	case o.MinCalls < 0:
		return invalid("MinCalls %d < 0", o.MinCalls)
	case o.Window < 0:
		return invalid("Window %v < 0", o.Window)
	case o.Window > 0 && o.Window < breakerBuckets:
		return invalid("Window %v < 10ns", o.Window)
	case o.ConsecutiveFailures < 0:
		return invalid("ConsecutiveFailures %d < 0", o.ConsecutiveFailures)
	case o.CoolDown < 0:
		return invalid("CoolDown %v < 0", o.CoolDown)
	case o.HalfOpenProbes < 0:
		return invalid("HalfOpenProbes %d < 0", o.HalfOpenProbes)
	case o.Idle < 0:
		return invalid("Idle %v < 0", o.Idle)
	}
	if o.FailureRate > 0 && o.MinCalls == 0 {
		o.MinCalls = DefaultBreakerMinCalls
	}
	if o.Window == 0 {
		o.Window = DefaultBreakerWindow
	}
	if o.FailureRate == 0 && o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if o.CoolDown == 0 {
		o.CoolDown = DefaultBreakerCoolDown
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = 1
	}
	if o.Idle == 0 {
		o.Idle = DefaultBreakerIdle
	}
	return o, nil
}

// ErrBreakerOpen is matched (errors.Is) by the error [Breaker.Allow] and
// [Breaker.Do] return while the breaker is open, or half-open with every
// probe admitted. That error is an [*OpenError], which says until when.
var ErrBreakerOpen = errors.New("limit: circuit breaker open")

// OpenError is the error of a call rejected by a breaker. It matches
// [ErrBreakerOpen].
type OpenError struct {
	// Until is when the breaker will admit a call again: the end of the
	// cool-down while open; while half-open with every probe admitted, the
	// moment the probes are given up on if they have not all reported
	// (CoolDown after the last probe was admitted). A caller may retry
	// sooner; it may be rejected again.
	Until time.Time
}

func (e *OpenError) Error() string {
	return "limit: circuit breaker open until " + e.Until.Format("2006-01-02T15:04:05.000Z07:00")
}

// Is reports whether target is [ErrBreakerOpen].
func (e *OpenError) Is(target error) bool { return target == ErrBreakerOpen }

// BreakerStats is a snapshot of a [Breaker].
type BreakerStats struct {
	State BreakerState
	// Calls and Failures are the calls and the failures reported in the
	// sliding window while closed. Both stay 0 unless FailureRate is set
	// (without it, no window is kept).
	Calls, Failures int64
	// ConsecutiveFailures is the current run of failures while closed.
	ConsecutiveFailures int64
	// Rejected counts the calls refused with [ErrBreakerOpen] since the
	// breaker was made.
	Rejected int64
	// Opens counts the changes to [BreakerOpen] since the breaker was made.
	Opens int64
}

// Breaker is a circuit breaker: closed, it lets calls through and counts
// their failures; once they trip one of its rules it opens and rejects
// every call with [ErrBreakerOpen] for a jittered cool-down; then, half-open,
// it lets a few probe calls through, and closes if they all succeed or opens
// again at the first failure.
//
// Each call takes a [Permit] from [Breaker.Allow] and reports its result with
// [Permit.Done], or uses [Breaker.Do], which does both. Allow never blocks.
// In the closed state Allow and Done allocate nothing and take no lock; with
// FailureRate set, Done also reads the (monotonic) clock, and the first Done
// of each Window/10 takes a lock to start the window's new bucket. State changes happen during
// these calls (and [Breaker.State], [Breaker.Stats]): a Breaker starts no
// goroutine. It is safe for concurrent use; make it with [NewBreaker].
type Breaker struct {
	o         BreakerOptions
	onChange  func(from, to BreakerState)
	isFailure func(error) bool
	start     time.Time     // the window's and until's origin
	width     time.Duration // of a window bucket
	consecMax int64         // 0: rule off

	// state is gen<<2 | BreakerState. Every change of state makes a new
	// generation, so a Permit from an earlier state is recognised.
	state    atomic.Uint64
	consec   atomic.Int64
	until    atomic.Int64 // while open: end of the cool-down, as ns since start
	openErr  atomic.Pointer[OpenError]
	rejected atomic.Int64
	buckets  [breakerBuckets]bucket // nil unless FailureRate > 0

	mu         sync.Mutex
	opens      int64
	lastProbe  time.Time // when the latest probe of this half-open generation was admitted
	probes     []bool    // per probe admitted in this half-open generation: reported
	admitted   int       // probes admitted and not canceled
	succeeded  int       // probes that reported success
	pending    []change  // state changes not yet delivered to onChange
	delivering bool      // a goroutine is delivering pending
}

type bucket struct {
	epoch  atomic.Int64  // bucket number (time since start / width) the counts are for
	counts atomic.Uint64 // calls<<32 | failures
	_      [48]byte      // one cache line each
}

type change struct{ from, to BreakerState }

const (
	stateMask  = 3
	genOne     = 4
	staleEpoch = math.MinInt64 / 2
)

// NewBreaker returns a closed breaker configured by o. It returns an error
// wrapping [ErrInvalidOptions] if o is out of range, or if
// o.OnKeyStateChange is set.
func NewBreaker(o BreakerOptions) (*Breaker, error) {
	if o.OnKeyStateChange != nil {
		return nil, fmt.Errorf("%w: BreakerOptions.OnKeyStateChange is for NewKeyedBreaker; use OnStateChange", ErrInvalidOptions)
	}
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	return newBreaker(o, o.OnStateChange), nil
}

func newBreaker(o BreakerOptions, onChange func(from, to BreakerState)) *Breaker {
	b := &Breaker{
		o: o, onChange: onChange, isFailure: o.IsFailure,
		start:     time.Now(),
		width:     o.Window / breakerBuckets,
		consecMax: int64(o.ConsecutiveFailures),
	}
	b.resetWindow()
	return b
}

// Permit is one call admitted by a [Breaker]. It is a small value: copy it
// freely. The zero Permit's methods do nothing.
type Permit struct {
	b     *Breaker
	state uint64 // the breaker's state word when the call was admitted
	probe int    // 1 + index in Breaker.probes for a half-open probe; 0 otherwise
}

// Allow admits a call, or rejects it with an [*OpenError] (matching
// [ErrBreakerOpen]) while the breaker is open or half-open with every probe
// admitted. It never blocks. An admitted call must report its result with
// [Permit.Done] (or give up with [Permit.Cancel]): a half-open probe never
// reported holds its slot until CoolDown after the last probe was admitted;
// then the probes still out are given up on (their Permits are ignored) and
// a new set is admitted.
func (b *Breaker) Allow() (Permit, error) {
	s := b.state.Load()
	if BreakerState(s&stateMask) == BreakerClosed {
		return Permit{b: b, state: s}, nil
	}
	if BreakerState(s&stateMask) == BreakerOpen {
		// Reject without the lock while the cool-down runs.
		if int64(time.Since(b.start)) < b.until.Load() {
			b.rejected.Add(1)
			return Permit{}, b.openErr.Load()
		}
	}
	return b.allowSlow()
}

func (b *Breaker) allowSlow() (Permit, error) {
	b.mu.Lock()
	s := b.state.Load()
	now := time.Now()
	switch BreakerState(s & stateMask) {
	case BreakerClosed:
		b.mu.Unlock()
		return Permit{b: b, state: s}, nil
	case BreakerOpen:
		if int64(now.Sub(b.start)) < b.until.Load() {
			err := b.openErr.Load()
			b.mu.Unlock()
			b.rejected.Add(1)
			return Permit{}, err
		}
		s = b.setLocked(BreakerHalfOpen, now)
	case BreakerHalfOpen:
		if b.admitted >= b.o.HalfOpenProbes && now.Sub(b.lastProbe) >= b.o.CoolDown {
			// The probes out never reported: give up on them and
			// admit a new set. This is no change of state.
			s = b.newGenLocked(BreakerHalfOpen)
			b.startHalfOpenLocked(now)
		}
	}
	if b.admitted >= b.o.HalfOpenProbes {
		err := b.openErr.Load()
		b.mu.Unlock()
		b.rejected.Add(1)
		return Permit{}, err
	}
	b.admitted++
	b.lastProbe = now
	if b.admitted == b.o.HalfOpenProbes {
		b.openErr.Store(&OpenError{Until: now.Add(b.o.CoolDown)})
	}
	b.probes = append(b.probes, false)
	p := Permit{b: b, state: s, probe: len(b.probes)}
	b.unlockAndDeliver()
	return p, nil
}

// Done reports the result of the permitted call: success or failure. A
// Permit from a state the breaker has since left (a call admitted before it
// opened, say) is ignored, as is the zero Permit.
//
// Call Done or Cancel once per Permit. A second call on a half-open probe's
// Permit is ignored; on a Permit of the closed state it is counted as
// another call, since a Permit is a plain value that keeps no record of its
// own (the price of a closed path that allocates nothing).
func (p Permit) Done(success bool) {
	b := p.b
	if b == nil {
		return
	}
	if p.probe != 0 {
		b.probeDone(p, success, false)
		return
	}
	if b.state.Load() != p.state {
		return // admitted in an earlier state
	}
	trip := false
	if b.o.FailureRate > 0 {
		trip = b.record(success)
	}
	if success {
		if b.consecMax > 0 && b.consec.Load() != 0 {
			b.consec.Store(0)
		}
	} else if b.consecMax > 0 && b.consec.Add(1) >= b.consecMax {
		trip = true
	}
	if trip {
		b.trip(p.state)
	}
}

// Cancel gives the Permit back without a result, for a call that was not
// made or whose result says nothing about the dependency (the caller gave
// up). A half-open probe's slot is freed for another call. Like Done, it is
// ignored on a Permit from an earlier state and on the zero Permit.
func (p Permit) Cancel() {
	if p.b != nil && p.probe != 0 {
		p.b.probeDone(p, false, true)
	}
}

// Do calls fn if the breaker admits a call, and reports its result: a
// failure if IsFailure(err) (see [BreakerOptions.IsFailure]), else a success
// (or neither for an error matching context.Canceled). It returns fn's error
// unchanged, or an [*OpenError] matching [ErrBreakerOpen] without calling fn,
// or ctx.Err() without calling fn if ctx is already done.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := b.Allow()
	if err != nil {
		return err
	}
	err = fn(ctx)
	b.report(p, err)
	return err
}

func (b *Breaker) report(p Permit, err error) {
	if err == nil {
		p.Done(true)
		return
	}
	var failure bool
	if b.isFailure != nil {
		failure = b.isFailure(err)
	} else {
		failure = !errors.Is(err, context.Canceled)
	}
	if !failure && errors.Is(err, context.Canceled) {
		p.Cancel()
		return
	}
	p.Done(!failure)
}

// State returns the breaker's state, turning it half-open first if its
// cool-down has ended.
func (b *Breaker) State() BreakerState {
	s := b.state.Load()
	if BreakerState(s&stateMask) == BreakerOpen && int64(time.Since(b.start)) >= b.until.Load() {
		b.mu.Lock()
		if b.state.Load() == s {
			b.setLocked(BreakerHalfOpen, time.Now())
		}
		s = b.state.Load()
		b.unlockAndDeliver()
	}
	return BreakerState(s & stateMask)
}

// Stats returns a snapshot of the breaker, whose State is as
// [Breaker.State] returns it.
func (b *Breaker) Stats() BreakerStats {
	st := BreakerStats{State: b.State(), Rejected: b.rejected.Load()}
	if st.State == BreakerClosed {
		st.ConsecutiveFailures = b.consec.Load()
		if b.o.FailureRate > 0 {
			st.Calls, st.Failures = b.window(b.epoch(time.Now()))
		}
	}
	b.mu.Lock()
	st.Opens = b.opens
	b.mu.Unlock()
	return st
}

func (b *Breaker) epoch(now time.Time) int64 { return int64(now.Sub(b.start) / b.width) }

// record counts a call in the window, and reports whether a failure trips
// the FailureRate rule.
func (b *Breaker) record(success bool) bool {
	// time.Since reads only the monotonic clock: half the cost of time.Now.
	e := int64(time.Since(b.start) / b.width)
	bk := &b.buckets[e%breakerBuckets]
	if bk.epoch.Load() != e {
		b.mu.Lock()
		cur := bk.epoch.Load()
		if cur < e {
			bk.counts.Store(0)
			bk.epoch.Store(e)
		}
		b.mu.Unlock()
		if cur > e {
			return false // this call is older than the window
		}
	}
	delta := uint64(1) << 32
	if !success {
		delta++
	}
	bk.counts.Add(delta)
	if success {
		return false
	}
	calls, failures := b.window(e)
	return calls >= int64(b.o.MinCalls) && float64(failures) >= b.o.FailureRate*float64(calls)
}

// window sums the buckets of the window that ends in bucket e.
func (b *Breaker) window(e int64) (calls, failures int64) {
	for i := range b.buckets {
		bk := &b.buckets[i]
		if ep := bk.epoch.Load(); ep > e-breakerBuckets && ep <= e {
			c := bk.counts.Load()
			calls += int64(c >> 32)
			failures += int64(c & math.MaxUint32)
		}
	}
	return calls, failures
}

func (b *Breaker) resetWindow() {
	for i := range b.buckets {
		b.buckets[i].epoch.Store(staleEpoch)
		b.buckets[i].counts.Store(0)
	}
}

// trip opens the breaker if it is still in state s.
func (b *Breaker) trip(s uint64) {
	b.mu.Lock()
	if b.state.Load() != s {
		b.mu.Unlock()
		return
	}
	b.setLocked(BreakerOpen, time.Now())
	b.unlockAndDeliver()
}

func (b *Breaker) probeDone(p Permit, success, cancel bool) {
	b.mu.Lock()
	if b.state.Load() != p.state || b.probes[p.probe-1] {
		b.mu.Unlock()
		return
	}
	b.probes[p.probe-1] = true
	switch {
	case cancel:
		b.admitted--
	case !success:
		b.setLocked(BreakerOpen, time.Now())
	default:
		b.succeeded++
		if b.succeeded >= b.o.HalfOpenProbes {
			b.setLocked(BreakerClosed, time.Now())
		}
	}
	b.unlockAndDeliver()
}

// newGenLocked stores a new generation in state to, and returns it.
func (b *Breaker) newGenLocked(to BreakerState) uint64 {
	s := (b.state.Load()&^stateMask + genOne) | uint64(to)
	b.state.Store(s)
	return s
}

func (b *Breaker) startHalfOpenLocked(now time.Time) {
	b.lastProbe = now
	b.probes = b.probes[:0]
	b.admitted, b.succeeded = 0, 0
}

// setLocked changes the state to `to` at now, queues the change for
// onChange, and returns the new state word. b.mu must be held.
func (b *Breaker) setLocked(to BreakerState, now time.Time) uint64 {
	from := BreakerState(b.state.Load() & stateMask)
	switch to {
	case BreakerOpen:
		d := b.o.CoolDown
		if j := d / 5; j > 0 {
			d += rand.N(j + 1)
		}
		until := now.Add(d)
		b.openErr.Store(&OpenError{Until: until})
		b.until.Store(int64(until.Sub(b.start)))
		b.opens++
	case BreakerHalfOpen:
		b.startHalfOpenLocked(now)
	case BreakerClosed:
		// A clean slate, before the new state is visible to Done.
		b.consec.Store(0)
		b.resetWindow()
	}
	s := b.newGenLocked(to)
	if b.onChange != nil {
		b.pending = append(b.pending, change{from, to})
	}
	return s
}

// unlockAndDeliver unlocks b.mu and calls onChange for the pending changes,
// unless another goroutine is doing so; that one will deliver them.
func (b *Breaker) unlockAndDeliver() {
	if len(b.pending) == 0 || b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	for len(b.pending) > 0 {
		c := b.pending[0]
		n := copy(b.pending, b.pending[1:])
		b.pending = b.pending[:n]
		b.mu.Unlock()
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.mu.Lock()
					b.delivering = false
					b.mu.Unlock()
					panic(r)
				}
			}()
			b.onChange(c.from, c.to)
		}()
		b.mu.Lock()
	}
	b.delivering = false
	b.mu.Unlock()
}

// evictable reports whether a KeyedBreaker may forget b at now: it is not
// open with its cool-down still running.
func (b *Breaker) evictable(now time.Time) bool {
	s := b.state.Load()
	return BreakerState(s&stateMask) != BreakerOpen || int64(now.Sub(b.start)) >= b.until.Load()
}

// KeyedBreaker is a [Breaker] per key, for example per host: each key's
// breaker trips, cools down and probes on its own. A key's breaker is made on
// its first use and forgotten once it has been unused for
// [BreakerOptions.Idle], unless it is open with its cool-down still running;
// a forgotten key starts again closed, with no failures counted. It starts
// no goroutine and is safe for concurrent use; make it with
// [NewKeyedBreaker].
type KeyedBreaker[K comparable] struct {
	o BreakerOptions

	mu      sync.Mutex
	entries map[K]*breakerEntry
	sweep   idleSweep[K, *breakerEntry]
}

type breakerEntry struct {
	b       *Breaker
	lastUse time.Time
}

// NewKeyedBreaker returns a KeyedBreaker whose breakers are configured by o.
// o.OnStateChange must be nil: use o.OnKeyStateChange, which is given the
// key. It returns an error wrapping [ErrInvalidOptions] if o is out of range.
func NewKeyedBreaker[K comparable](o BreakerOptions) (*KeyedBreaker[K], error) {
	if o.OnStateChange != nil {
		return nil, fmt.Errorf("%w: BreakerOptions.OnStateChange is not supported by NewKeyedBreaker; use OnKeyStateChange", ErrInvalidOptions)
	}
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	idle := o.Idle
	return &KeyedBreaker[K]{
		o:       o,
		entries: make(map[K]*breakerEntry),
		sweep: idleSweep[K, *breakerEntry]{period: idle, idle: func(e *breakerEntry, now time.Time) bool {
			return now.Sub(e.lastUse) >= idle && e.b.evictable(now)
		}},
	}, nil
}

// Allow admits a call for key, or rejects it, as [Breaker.Allow] does for
// key's breaker. It does not allocate once key has a breaker.
func (k *KeyedBreaker[K]) Allow(key K) (Permit, error) {
	return k.breaker(key).Allow()
}

// Do is [Breaker.Do] on key's breaker.
func (k *KeyedBreaker[K]) Do(ctx context.Context, key K, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.breaker(key).Do(ctx, fn)
}

// State returns key's state as [Breaker.State] does; BreakerClosed for a
// key with no breaker.
func (k *KeyedBreaker[K]) State(key K) BreakerState {
	if b := k.lookup(key); b != nil {
		return b.State()
	}
	return BreakerClosed
}

// Stats returns key's [Breaker.Stats]; for a key with no breaker, those of
// a new one.
func (k *KeyedBreaker[K]) Stats(key K) BreakerStats {
	if b := k.lookup(key); b != nil {
		return b.Stats()
	}
	return BreakerStats{}
}

// Len returns the number of keys with a breaker, after forgetting idle ones
// that are due.
func (k *KeyedBreaker[K]) Len() int {
	k.mu.Lock()
	k.sweep.sweep(k.entries, time.Now())
	n := len(k.entries)
	k.mu.Unlock()
	return n
}

func (k *KeyedBreaker[K]) lookup(key K) *Breaker {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e := k.entries[key]; e != nil {
		return e.b
	}
	return nil
}

// breaker returns key's breaker, making it if needed, and marks it used.
func (k *KeyedBreaker[K]) breaker(key K) *Breaker {
	k.mu.Lock()
	now := time.Now()
	k.sweep.sweep(k.entries, now)
	e := k.entries[key]
	if e == nil {
		var onChange func(from, to BreakerState)
		if f := k.o.OnKeyStateChange; f != nil {
			onChange = func(from, to BreakerState) { f(key, from, to) }
		}
		e = &breakerEntry{b: newBreaker(k.o, onChange)}
		k.entries[key] = e
	}
	e.lastUse = now
	k.mu.Unlock()
	return e.b
}

package retry

import (
	"fmt"
	"sync/atomic"
)

// Budget is a token bucket shared by every caller of one dependency, in the
// style of gRPC retry throttling. It starts full with MaxTokens tokens; each
// retryable failure costs one token and each success refunds Ratio tokens, never
// above MaxTokens. Retries are allowed only while more than half the tokens
// remain, so when the dependency fails for everybody the retries stop and the
// load falls back to first attempts alone.
//
// A Budget is safe for concurrent use. Every update is a single atomic
// compare-and-swap on the token count, so concurrent callers can neither push
// it above MaxTokens or below zero nor be granted more retries than the tokens
// allow: starting full, n failures with no success in between allow exactly
// the retries whose failure left more than half the tokens.
type Budget struct {
	max   int64 // in milli-tokens
	ratio int64 // milli-tokens refunded per success
	half  int64
	cur   atomic.Int64
}

// NewBudget returns a full Budget. maxTokens must be at least 1 and ratio in
// (0, maxTokens]; gRPC's usual values are 10 and 0.1. Invalid values panic:
// they are programmer errors.
func NewBudget(maxTokens, ratio float64) *Budget {
	if !(maxTokens >= 1 && maxTokens <= 1e12) || !(ratio > 0 && ratio <= maxTokens) {
		panic(fmt.Sprintf("retry: NewBudget(%v, %v): need 1 <= maxTokens <= 1e12 and 0 < ratio <= maxTokens", maxTokens, ratio))
	}
	b := &Budget{max: int64(maxTokens * 1000), ratio: max(int64(ratio*1000), 1)}
	b.half = b.max / 2
	b.cur.Store(b.max)
	return b
}

// Success refunds Ratio tokens, up to MaxTokens.
func (b *Budget) Success() {
	for {
		cur := b.cur.Load()
		next := min(cur+b.ratio, b.max)
		if next == cur || b.cur.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Failure spends one token and reports whether a retry is allowed: whether
// more than half of MaxTokens remain after the spend.
func (b *Budget) Failure() bool {
	for {
		cur := b.cur.Load()
		next := max(cur-1000, 0)
		if b.cur.CompareAndSwap(cur, next) {
			return next > b.half
		}
	}
}

// Allow reports whether retries are currently allowed, without spending.
func (b *Budget) Allow() bool { return b.cur.Load() > b.half }

// Tokens returns the current number of tokens.
func (b *Budget) Tokens() float64 { return float64(b.cur.Load()) / 1000 }

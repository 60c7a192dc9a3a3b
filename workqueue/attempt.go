package workqueue

import "context"

// attemptKey is the context key of the attempt number.
type attemptKey struct{}

// sharedAttempts is how many attempt numbers get a context made once per
// queue and shared by every job; later attempts make their own.
const sharedAttempts = 16

// Attempt returns the number of the attempt that ctx belongs to: 1 for a
// job's first call of the handler, 2 for its first retry, and so on. It
// returns 0 for a context that is not, or does not derive from, a handler's
// context.
func Attempt(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

// newAttemptContexts returns the contexts of attempts 1 to sharedAttempts,
// children of parent.
func newAttemptContexts(parent context.Context) []context.Context {
	cs := make([]context.Context, sharedAttempts)
	for i := range cs {
		cs[i] = context.WithValue(parent, attemptKey{}, i+1)
	}
	return cs
}

// attemptContext returns the context of attempt n (n >= 1), without
// allocating for the first sharedAttempts attempts: a context carries only
// the attempt number, so every job's attempt n can share one.
func (q *Queue[T]) attemptContext(n int) context.Context {
	if n <= len(q.attemptCtxs) {
		return q.attemptCtxs[n-1]
	}
	return context.WithValue(q.ctx, attemptKey{}, n)
}

package fetch

import (
	"context"
	"errors"
	"time"
)

// withRequestContext returns a context that ends when ctx or rctx (a
// request's own context) ends, and a function releasing its resources that
// the caller must call. Its error is the one of the context that ended; at
// rctx's deadline it is [context.DeadlineExceeded]. If rctx can never end, it
// returns ctx itself, allocating nothing.
func withRequestContext(ctx, rctx context.Context) (context.Context, context.CancelFunc) {
	if rctx.Done() == nil || rctx == ctx {
		return ctx, func() {}
	}
	var cancel context.CancelFunc
	d, hasDeadline := rctx.Deadline()
	if hasDeadline {
		// This context's own timer ends it at rctx's deadline, with
		// [context.DeadlineExceeded] as rctx's error.
		ctx, cancel = context.WithDeadline(ctx, d)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(rctx, func() {
		if hasDeadline && errors.Is(rctx.Err(), context.DeadlineExceeded) && !time.Now().Before(d) {
			return // the timer above ends ctx with the same error
		}
		cancel()
	})
	return ctx, func() { stop(); cancel() }
}

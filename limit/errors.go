package limit

import (
	"errors"
	"fmt"
)

// ErrTooLarge is returned (wrapped) by [Semaphore.Acquire] when the request
// asks for more permits than the semaphore's limit, so it could never be
// granted. It is returned at once, or, for a queued waiter, as soon as
// [Semaphore.SetLimit] shrinks the limit below its request.
var ErrTooLarge = errors.New("limit: request exceeds the semaphore limit")

// ErrInvalidOptions is returned (wrapped, with the offending field) by
// constructors given options outside their documented range.
var ErrInvalidOptions = errors.New("limit: invalid options")

func tooLarge(n, limit int64) error {
	return fmt.Errorf("%w: acquire %d, limit %d", ErrTooLarge, n, limit)
}

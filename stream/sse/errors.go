package sse

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/stream"
)

var (
	// ErrEventTooLarge is returned when a line, or an event's data (its data
	// fields joined), exceeds the size limit (MaxEventBytes). The stream
	// cannot continue past it: the connection ends.
	ErrEventTooLarge = errors.New("sse: event too large")

	// ErrNoContent is returned by Dial, marked retry.Permanent, when the
	// server answered 204 No Content: in the EventSource protocol this is the
	// server asking the client to stop reconnecting. A stream.Client's Run
	// then ends with an error matching ErrNoContent.
	ErrNoContent = errors.New("sse: server asked to stop (204 No Content)")

	// ErrContentType is returned by Dial, marked retry.Permanent, when a 200
	// answer is not of type text/event-stream.
	ErrContentType = errors.New("sse: response is not text/event-stream")

	// ErrReadOnly is returned by Write: server-sent events flow one way, from
	// the server to the client. Send data to the server with a separate HTTP
	// request. It matches stream.ErrInvalidMessage: the connection stays up.
	ErrReadOnly = fmt.Errorf("sse: stream is read-only: %w", stream.ErrInvalidMessage)

	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("sse: connection closed")
)

// StatusError is returned by Dial when the server answered with a status
// other than 200 and 204. Dial marks it with retry.Permanent unless Retryable.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the start of the answer's body (at most 512 bytes), for
	// messages. It is a []byte, as fetch.StatusError's Body.
	Body []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sse: server answered %d %s", e.Status, http.StatusText(e.Status))
}

// Retryable reports whether the status is transient, worth another attempt
// after a backoff: 408, 425, 429, 500, 502, 503 or 504, the statuses fetch
// retries and stream/sse and stream/websocket reconnect after. Every other
// status, 501 Not Implemented and 505 HTTP Version Not Supported included, is
// permanent, and Dial marks the error with retry.Permanent.
func (e *StatusError) Retryable() bool {
	// The list is decided once, in internal/httpx.RetryableStatus.
	return httpx.RetryableStatus(e.Status)
}

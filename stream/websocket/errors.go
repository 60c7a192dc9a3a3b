package websocket

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicego/sluice/internal/httpx"
	"github.com/sluicego/sluice/stream"
)

var (
	// ErrMessageTooBig is returned by Read when a message is larger than the
	// Dialer's ReadLimit. The connection is closed (status 1009). The error
	// also matches github.com/coder/websocket.ErrMessageTooBig.
	ErrMessageTooBig = errors.New("websocket: message too big")

	// ErrMessageType is returned by Write for a Message whose Type is neither
	// Text nor Binary. It matches stream.ErrInvalidMessage: the connection
	// stays up.
	ErrMessageType = fmt.Errorf("websocket: invalid message type: %w", stream.ErrInvalidMessage)

	// ErrClosed is returned by Read, Write and Ping after Close or CloseNow
	// was called.
	ErrClosed = errors.New("websocket: connection closed")

	// ErrHandshakeTimeout is returned by Dial, unmarked (retryable), when the
	// opening handshake took longer than the Dialer's HandshakeTimeout. It
	// does not match context.DeadlineExceeded: that is kept for the end of
	// the caller's context.
	ErrHandshakeTimeout = errors.New("websocket: handshake timed out")

	// ErrCloseTimeout is returned by Close when the peer did not complete the
	// close handshake within the Dialer's CloseTimeout and the connection was
	// closed without it.
	ErrCloseTimeout = errors.New("websocket: close handshake timed out")
)

// HandshakeError is returned by Dial when the server answered the opening
// handshake with a status other than 101 Switching Protocols. Dial marks it
// with retry.Permanent unless Retryable.
type HandshakeError struct {
	// Status is the HTTP status code of the answer.
	Status int
	// Header is the header of the answer.
	Header http.Header
	// Err is the error reported by the WebSocket library.
	Err error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("websocket: handshake refused: %d %s", e.Status, http.StatusText(e.Status))
}

// Unwrap returns Err.
func (e *HandshakeError) Unwrap() error { return e.Err }

// Retryable reports whether the status is transient, worth another attempt
// after a backoff: 408, 425, 429, 500, 502, 503 or 504, the statuses fetch
// retries and stream/sse and stream/websocket reconnect after. Every other
// status, 501 Not Implemented and 505 HTTP Version Not Supported included, is
// permanent, and Dial marks the error with retry.Permanent.
func (e *HandshakeError) Retryable() bool {
	// The list is decided once, in internal/httpx.RetryableStatus.
	return httpx.RetryableStatus(e.Status)
}

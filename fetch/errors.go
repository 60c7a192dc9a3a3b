package fetch

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors, matched with errors.Is against Result.Err.
var (
	// ErrInvalidOptions is returned (wrapped, naming the field) by New when
	// Options are out of range.
	ErrInvalidOptions = errors.New("fetch: invalid options")

	// ErrBodyTooLarge means the response body was longer than
	// Options.MaxBodyBytes. The body is never returned cut short.
	ErrBodyTooLarge = errors.New("fetch: response body exceeds MaxBodyBytes")

	// ErrDisallowed means robots.txt forbids the URL for our user agent, or the
	// host's robots.txt could not be fetched (5xx, 429 or a network error) and
	// the host is treated as disallowed until Options.RobotsErrorTTL passes.
	ErrDisallowed = errors.New("fetch: disallowed by robots.txt")

	// ErrTimeout means an attempt ran longer than Options.Timeout. It is a
	// transient failure: the attempt is retried if the request allows it.
	ErrTimeout = errors.New("fetch: attempt timed out")
)

// StatusError is the error of a response whose final status is not 2xx.
// Result.Status holds the same code; retrieve the error with errors.As.
type StatusError struct {
	Method string
	URL    string
	Status int
	// Body holds up to the first 512 bytes of the response body, to help
	// diagnose the failure. The rest of the body is discarded.
	Body []byte
}

// snippetBytes is the size of StatusError.Body.
const snippetBytes = 512

func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch: %s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
}

// transientStatus reports whether a status code is worth another attempt:
// 408, 425, 429, 500, 502, 503 and 504. 501 and other 4xx are not.
func transientStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

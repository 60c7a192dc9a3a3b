package fetch

import (
	"fmt"
	"io"
	"net/http"
)

// readBody reads a 2xx body in full, or fails with [ErrBodyTooLarge] as soon
// as it is known to exceed maxBytes.
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if resp.ContentLength > maxBytes {
		return nil, fmt.Errorf("%w: Content-Length %d > %d", ErrBodyTooLarge, resp.ContentLength, maxBytes)
	}
	if resp.ContentLength >= 0 {
		buf := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, maxBytes)
	}
	return buf, nil
}

// drainBytes bounds how much of an unread body is read so that its
// connection can be reused; a longer body's connection is closed instead.
const drainBytes = 64 << 10

// drainAndClose reads what is left of body, up to drainBytes, and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	_ = body.Close()
}

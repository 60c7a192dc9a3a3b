package fetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// readBody reads a 2xx body in full, or fails with [ErrBodyTooLarge] as soon
// as it is known to exceed maxBytes.
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if resp.ContentLength > maxBytes {
		return nil, tooLarge(resp.ContentLength, maxBytes)
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

// tooLarge is the [ErrBodyTooLarge] error of a response whose
// Content-Length is over maxBytes.
func tooLarge(contentLength, maxBytes int64) error {
	return fmt.Errorf("%w: Content-Length %d > %d", ErrBodyTooLarge, contentLength, maxBytes)
}

// drainBytes bounds how much of an unread body is read so that its
// connection can be reused; a longer body's connection is closed instead.
const drainBytes = 64 << 10

// drainAndClose reads what is left of body, up to drainBytes, and closes it.
func drainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	_ = body.Close()
}

// heldBody is the body of a response handed to the caller unread, by
// [Fetcher.Open] or the [Fetcher.Transport], together with the slots of
// the attempt that received it. It gives them back once, on the first of:
// Close, a Read that returns any error (io.EOF, [ErrBodyTooLarge], or a
// failure of the body), or the end of the attempt's context (its AttemptTimeout or the caller's context).
// Nothing else does: there is no finalizer.
type heldBody struct {
	rc   io.ReadCloser
	left int64 // the bytes that may still be read under MaxBodyBytes
	err  error // sticky ErrBodyTooLarge, once the limit was passed
	max  int64

	release func()      // gives the slots back and ends the attempt's context
	stop    func() bool // stops the context.AfterFunc that calls done

	mu       sync.Mutex
	released bool
	cancel   context.CancelFunc // also called by done, if set
}

// hold makes resp's body a heldBody that owns the attempt's slots
// (releaseHost and a global slot) and its context (actx, ended by cancel),
// and returns resp.
func (f *Fetcher) hold(resp *http.Response, actx context.Context, cancel context.CancelFunc, releaseHost func()) *http.Response {
	b := &heldBody{rc: resp.Body, left: f.cfg.MaxBodyBytes, max: f.cfg.MaxBodyBytes}
	b.release = func() {
		f.release(releaseHost)
		cancel()
	}
	b.stop = context.AfterFunc(actx, b.done)
	resp.Body = b
	return resp
}

// done gives the slots back, the first time only.
func (b *heldBody) done() {
	b.mu.Lock()
	if b.released {
		b.mu.Unlock()
		return
	}
	b.released = true
	cancel := b.cancel
	b.mu.Unlock()
	b.release()
	if cancel != nil {
		cancel()
	}
}

// cancelWhenDone makes done call cancel too, or calls it now if done has
// run: it releases the context the request was sent with.
func (b *heldBody) cancelWhenDone(cancel context.CancelFunc) {
	b.mu.Lock()
	if !b.released {
		b.cancel = cancel
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	cancel()
}

// finish is done called by the body's user, who no longer needs the
// AfterFunc.
func (b *heldBody) finish() {
	b.stop()
	b.done()
}

// Read reads from the response body. Past MaxBodyBytes it returns
// [ErrBodyTooLarge] (the bytes up to the limit are returned first); at the
// end of the body, io.EOF. Either gives the slots back.
func (b *heldBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more than allowed tells a body over the limit
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), 0
		b.err = fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.max)
		b.finish()
		return n, b.err
	}
	b.left -= int64(n)
	if err != nil {
		b.finish() // EOF, or the body failed: either way the attempt is over
	}
	return n, err
}

// Close closes the response body and gives the slots back. It does not
// drain what is left: read to io.EOF first for the connection to be reused.
func (b *heldBody) Close() error {
	err := b.rc.Close()
	b.finish()
	return err
}

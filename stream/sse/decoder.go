package sse

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// DefaultMaxEventBytes is the size limit used when none is given: 1 MiB.
const DefaultMaxEventBytes = 1 << 20

// maxRetry caps the value of a retry field.
const maxRetry = 24 * time.Hour

const (
	initialLineBuf = 4 << 10
	keptDataBuf    = 64 << 10 // larger data buffers are dropped after dispatch
	maxEmptyReads  = 100
)

// Decoder parses a text/event-stream following the WHATWG EventSource rules:
// lines end with CR, LF or CRLF; a leading byte order mark is skipped; lines
// starting with ':' are comments; the fields are data (repeated fields are
// joined with "\n"), event, id (ignored if it contains NUL) and retry (ASCII
// digits only, in milliseconds, capped at 24h); unknown fields are ignored;
// a blank line dispatches the event, unless no data field was seen; an event
// not terminated by a blank line when the stream ends is discarded.
//
// A Decoder is bounded: a line longer than the limit, or an event whose data
// exceeds it, is [ErrEventTooLarge], and the Decoder holds at most a few times
// the limit in memory. Bytes are passed through as they are: a Decoder does
// not validate UTF-8.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	src  io.Reader
	max  int
	buf  []byte // unread bytes are buf[r:w]
	r, w int
	err  error // sticky: the first error of src, or ErrEventTooLarge

	bomDone bool
	skipLF  bool // the previous line ended with CR: skip one LF

	data      []byte // data buffer, each value followed by '\n'
	eventType string
	typeCache string // last event type seen, reused to save allocations
	idBuf     string // last event ID buffer
	lastID    string // last event ID string, set at each dispatch
	retry     time.Duration
}

// NewDecoder returns a [Decoder] reading from r. maxEventBytes bounds the
// length of a line and the size of an event's data; zero or negative means
// [DefaultMaxEventBytes].
func NewDecoder(r io.Reader, maxEventBytes int) *Decoder {
	if maxEventBytes <= 0 {
		maxEventBytes = DefaultMaxEventBytes
	}
	return &Decoder{src: r, max: maxEventBytes}
}

// Seed sets the state a stream carries across reconnections: the last event
// ID and the retry delay learnt from earlier connections. Events without an
// id field then report lastEventID, as browsers do. Call it before Next.
func (d *Decoder) Seed(lastEventID string, retry time.Duration) {
	d.idBuf, d.lastID, d.retry = lastEventID, lastEventID, retry
}

// LastEventID returns the last event ID string: the ID of the latest
// dispatched event, or of a dispatched block with an id field but no data.
func (d *Decoder) LastEventID() string { return d.lastID }

// Retry returns the reconnection delay set by the latest retry field, or the
// seeded one, or zero.
func (d *Decoder) Retry() time.Duration { return d.retry }

// Next reads until the next event is dispatched and returns it. At the end
// of the stream it returns io.EOF (an unterminated last event is dropped);
// it returns [ErrEventTooLarge] when the limit is exceeded, and any other
// error of the underlying reader. Errors are sticky: once Next failed, it
// keeps returning the same error. Next blocks as long as the reader does.
func (d *Decoder) Next() (Event, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := d.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := d.processLine(line); err != nil {
			d.err = err
			return Event{}, err
		}
	}
}

func (d *Decoder) dispatch() (Event, bool) {
	d.lastID = d.idBuf
	if len(d.data) == 0 {
		d.eventType = ""
		return Event{}, false
	}
	ev := Event{
		ID:    d.lastID,
		Event: d.eventType,
		Data:  string(d.data[:len(d.data)-1]),
		Retry: d.retry,
	}
	d.eventType = ""
	if cap(d.data) > keptDataBuf {
		d.data = nil
	} else {
		d.data = d.data[:0]
	}
	return ev, true
}

func (d *Decoder) processLine(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	field, value := line, line[:0]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(d.data)+len(value)+1 > d.max {
			return fmt.Errorf("%w: data exceeds %d bytes", ErrEventTooLarge, d.max)
		}
		d.data = append(d.data, value...)
		d.data = append(d.data, '\n')
	case "event":
		if string(value) != d.typeCache {
			d.typeCache = string(value)
		}
		d.eventType = d.typeCache
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != d.idBuf {
			d.idBuf = string(value)
		}
	case "retry":
		if ms, ok := parseRetryField(value); ok {
			d.retry = ms
		}
	}
	return nil
}

// parseRetryField parses a retry field: one or more ASCII digits, in
// milliseconds, capped at maxRetry.
func parseRetryField(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if ms <= int64(maxRetry/time.Millisecond) {
			ms = ms*10 + int64(c-'0')
		}
	}
	return min(time.Duration(ms)*time.Millisecond, maxRetry), true
}

var bom = []byte("\xEF\xBB\xBF")

// readLine returns the next line without its terminator. The slice is valid
// until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	emptyReads := 0
	for {
		if d.skipLF && d.r < d.w {
			if d.buf[d.r] == '\n' {
				d.r++
			}
			d.skipLF = false
		}
		if !d.bomDone {
			pending := d.buf[d.r:d.w]
			switch {
			case bytes.HasPrefix(pending, bom):
				d.r += len(bom)
				d.bomDone = true
			case len(pending) >= len(bom) || !bytes.HasPrefix(bom, pending) || d.err != nil:
				d.bomDone = true
			}
		}
		if d.bomDone {
			pending := d.buf[d.r:d.w]
			end := len(pending)
			if i := bytes.IndexByte(pending, '\n'); i >= 0 {
				end = i
			}
			if i := bytes.IndexByte(pending[:end], '\r'); i >= 0 {
				end = i
				d.skipLF = true
			}
			if end < len(pending) {
				d.r += end + 1
				return pending[:end], nil
			}
			if len(pending) > d.max {
				d.err = fmt.Errorf("%w: line exceeds %d bytes", ErrEventTooLarge, d.max)
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		if d.fill() > 0 {
			emptyReads = 0
		} else if emptyReads++; emptyReads >= maxEmptyReads && d.err == nil {
			d.err = io.ErrNoProgress
		}
	}
}

// fill reads once into the buffer, growing it up to max+1 bytes, and returns
// the number of bytes read.
func (d *Decoder) fill() int {
	if d.r > 0 {
		d.w = copy(d.buf, d.buf[d.r:d.w])
		d.r = 0
	}
	if d.w == len(d.buf) {
		size := min(max(2*len(d.buf), initialLineBuf), d.max+1)
		if size <= len(d.buf) {
			size = len(d.buf) + 1 // unreachable by the line limit; keeps the read progressing
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.w])
		d.buf = nb
	}
	n, err := d.src.Read(d.buf[d.w:])
	d.w += n
	if err != nil {
		d.err = err
	}
	return n
}

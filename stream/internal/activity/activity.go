// Package activity records when a connection last received bytes, for the
// transports' stream.ActivityReporter implementations.
package activity

import (
	"io"
	"sync/atomic"
	"time"
)

// Clock holds the time bytes last arrived. Touch and Last are safe for
// concurrent use. Create it with New.
type Clock struct {
	base time.Time    // carries a monotonic reading
	last atomic.Int64 // nanoseconds since base; -1 until the first Touch
}

// New returns a Clock on which nothing has arrived yet.
func New() *Clock {
	c := &Clock{base: time.Now()}
	c.last.Store(-1)
	return c
}

// Touch records that bytes arrived now.
func (c *Clock) Touch() { c.last.Store(int64(time.Since(c.base))) }

// Last returns when Touch was last called, or the zero Time if never.
func (c *Clock) Last() time.Time {
	d := c.last.Load()
	if d < 0 {
		return time.Time{}
	}
	return c.base.Add(time.Duration(d))
}

// Reader counts a Read that returned bytes as an arrival on Clock.
type Reader struct {
	R     io.Reader
	Clock *Clock
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	if n > 0 {
		r.Clock.Touch()
	}
	return n, err
}

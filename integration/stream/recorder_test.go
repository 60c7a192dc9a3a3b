package streamit

import (
	"sync"

	"github.com/sluicego/sluice/stream"
)

// recorder keeps the state events a Client reports through OnState.
type recorder struct {
	mu     sync.Mutex
	events []stream.StateEvent
}

func (r *recorder) OnState(e stream.StateEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// disconnects returns the StateDisconnected events so far.
func (r *recorder) disconnects() []stream.StateEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []stream.StateEvent
	for _, e := range r.events {
		if e.State == stream.StateDisconnected {
			d = append(d, e)
		}
	}
	return d
}

// list is a slice safe for a handler to append to while the test reads it.
type list[T any] struct {
	mu    sync.Mutex
	items []T
}

func (l *list[T]) add(v T) {
	l.mu.Lock()
	l.items = append(l.items, v)
	l.mu.Unlock()
}

func (l *list[T]) get() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.items...)
}

func (l *list[T]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.items)
}

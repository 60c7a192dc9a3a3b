package stream

import "time"

// queued is a message waiting in the send buffer.
type queued[M any] struct {
	m  M
	at time.Time // when Send queued it; zero unless SendMaxAge is set
}

// sendBuffer is a fixed-capacity FIFO ring. It allocates once, on first use,
// and is guarded by Client.mu.
type sendBuffer[M any] struct {
	cap   int
	ring  []queued[M]
	head  int
	count int
}

func (b *sendBuffer[M]) len() int { return b.count }

// push appends q and reports false if the buffer is full.
func (b *sendBuffer[M]) push(q queued[M]) bool {
	if b.count >= b.cap {
		return false
	}
	if b.ring == nil {
		b.ring = make([]queued[M], b.cap)
	}
	b.ring[(b.head+b.count)%b.cap] = q
	b.count++
	return true
}

// pushFront puts q back at the head; the caller guarantees room.
func (b *sendBuffer[M]) pushFront(q queued[M]) {
	b.head = (b.head - 1 + b.cap) % b.cap
	b.ring[b.head] = q
	b.count++
}

// pop removes the oldest message.
func (b *sendBuffer[M]) pop() (queued[M], bool) {
	var zero queued[M]
	if b.count == 0 {
		return zero, false
	}
	q := b.ring[b.head]
	b.ring[b.head] = zero // drop the reference
	b.head = (b.head + 1) % b.cap
	b.count--
	return q, true
}

// clear empties the buffer and returns how many messages it held.
func (b *sendBuffer[M]) clear() int {
	n := b.count
	for b.count > 0 {
		b.pop()
	}
	return n
}

package stream

import "errors"

var (
	// ErrClosed is returned by Send once Run has returned.
	ErrClosed = errors.New("stream: client closed")

	// ErrRunCalled is returned by a second call to Run: a [Client] runs once.
	ErrRunCalled = errors.New("stream: Run already called")

	// ErrSendBufferFull is returned by Send when no connection is up and
	// [Options.SendBuffer] messages are already queued.
	ErrSendBufferFull = errors.New("stream: send buffer full")

	// ErrMaxFailures is returned by Run, wrapped together with the last
	// attempt's error, after [Options.MaxFailures] consecutive failed attempts.
	ErrMaxFailures = errors.New("stream: max connection attempts reached")

	// ErrPingTimeout is the reason a connection was closed when a ping went
	// unanswered until its deadline, [Options.PingTimeout] after it was sent.
	// It wraps the Ping error unless that is a context error: like every
	// disconnect reason, it never matches context.DeadlineExceeded.
	ErrPingTimeout = errors.New("stream: ping not answered")

	// ErrIdleTimeout is the reason a connection was closed when nothing
	// arrived on it for [Options.IdleTimeout].
	ErrIdleTimeout = errors.New("stream: connection idle")

	// ErrConnectTimeout is the reason an attempt failed when Dial, OnConnect
	// and the buffer flush took longer than [Options.ConnectTimeout], by the
	// clock. It wraps the attempt's error, without its context errors.
	ErrConnectTimeout = errors.New("stream: connect timeout")

	// ErrInvalidMessage is matched by the error a [Conn]'s Write returns when it
	// refuses a message without writing any of it (a message type the
	// transport cannot send, a read-only stream). The connection stays up:
	// Send returns the error, and a queued message refused at flush time is
	// dropped and counted in [Stats.Dropped].
	ErrInvalidMessage = errors.New("stream: invalid message")

	// ErrInvalidOptions is wrapped by the error [New] returns for bad [Options].
	ErrInvalidOptions = errors.New("stream: invalid options")
)

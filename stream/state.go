package stream

import (
	"strconv"
	"time"
)

// State is where a [Client] is in its connection life cycle.
type State int32

// States of a Client, in the order a Run goes through them.
const (
	// StateIdle: Run has not been called yet.
	StateIdle State = iota
	// StateConnecting: dialling, running OnConnect and flushing the send buffer.
	StateConnecting
	// StateConnected: a connection is up; messages flow.
	StateConnected
	// StateDisconnected: the last attempt or connection failed; Run is about to
	// wait and redial, or to return.
	StateDisconnected
	// StateClosed: Run has returned. Final.
	StateClosed
)

// String returns the state's lower-case name, such as "connected".
func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateDisconnected:
		return "disconnected"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// StateEvent describes one state change, as passed to [Options.OnState].
type StateEvent struct {
	// State is the new state.
	State State
	// Err is why: for [StateDisconnected] the error that ended the attempt or the
	// connection; for [StateClosed] the error Run returns. Nil otherwise.
	Err error
	// Attempt counts consecutive failed attempts: for [StateConnecting] the
	// number of the attempt starting (1 after a stable connection), for
	// [StateDisconnected] the number of failures so far (0 when a stable
	// connection ended).
	Attempt int
	// Delay is, for [StateDisconnected], the wait before the next attempt
	// (0 when Run is about to return).
	Delay time.Duration
}

// String formats the event for logs, such as "disconnected (attempt 2, retry in 400ms): EOF".
func (e StateEvent) String() string {
	s := e.State.String()
	if e.State == StateDisconnected && e.Delay > 0 {
		if e.Attempt > 0 {
			s += " (attempt " + strconv.Itoa(e.Attempt) + ", retry in " + e.Delay.String() + ")"
		} else {
			s += " (retry in " + e.Delay.String() + ")"
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

package workqueue

import "strconv"

// Outcome is the category of a [Result], as counted by [Stats]: every accepted
// job ends in exactly one.
type Outcome int

// The outcomes, named after the matching Stats counters. The zero value is
// not an outcome.
const (
	// OutcomeSucceeded: an attempt returned nil (Stats.Succeeded).
	OutcomeSucceeded Outcome = iota + 1
	// OutcomeFailed: the last attempt failed and no retry follows, because
	// the error was permanent or not retryable, or the policy ran out. This is the dead-letter path (Stats.Failed).
	OutcomeFailed
	// OutcomeCanceled: the job was running, or awaiting a retry, when a
	// Shutdown's context ended (Stats.Canceled).
	OutcomeCanceled
	// OutcomeDropped: the job was still in the buffer, never started, when a
	// Shutdown's context ended (Stats.Dropped).
	OutcomeDropped
)

var outcomeNames = [...]string{
	OutcomeSucceeded: "succeeded",
	OutcomeFailed:    "failed",
	OutcomeCanceled:  "canceled",
	OutcomeDropped:   "dropped",
}

// String returns a short lower-case name of o, such as "succeeded" or
// "dropped".
func (o Outcome) String() string {
	if o > 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

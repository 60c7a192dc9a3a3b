package workqueue

// Stats is a snapshot of a [Queue]'s counters and gauges, taken by
// [Queue.Stats]. Every field is an int64.
//
// The fields are read one by one while the queue runs, so a snapshot taken
// under load may be off by the jobs that moved meanwhile, within these
// bounds: Submitted never counts a job not yet accepted (a submission in
// progress or rejected counts nothing), and is at least Succeeded + Failed +
// Canceled + Dropped; no counter (Submitted, Succeeded, Failed, Canceled,
// Dropped, Retries) is ever lower than in an earlier snapshot; Queued,
// Running and Retrying are never negative, and Running is at most Workers.
// Whenever the queue is quiescent (after [Queue.Wait] or [Queue.Shutdown] has returned, with
// no [Queue.Submit] in progress), Submitted == Succeeded + Failed + Canceled +
// Dropped and Queued, Running and Retrying are zero.
type Stats struct {
	// Submitted counts accepted jobs: those Submit or TrySubmit accepted
	// (returned nil, or is about to).
	Submitted int64
	// Queued is the number of jobs in the buffer, waiting for a worker.
	Queued int64
	// Running is the number of jobs out of the buffer and the retry
	// scheduler whose outcome is not yet reported: handler calls in
	// progress, plus outcomes being passed to OnResult. It is derived
	// (Submitted less the reported outcomes, Queued and Retrying) and capped
	// at Workers.
	Running int64
	// Retrying is the number of jobs waiting out a retry backoff, or being
	// handed to a worker once it is due.
	Retrying int64

	// Succeeded, Failed, Canceled and Dropped count terminal outcomes.
	Succeeded int64
	Failed    int64
	Canceled  int64
	Dropped   int64

	// Retries counts failed attempts after which the job was scheduled to run
	// again.
	Retries int64
}

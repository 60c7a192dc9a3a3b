// Package jsqueue is the workqueue of github.com/sluicego/sluice/workqueue
// across processes and machines: jobs live in a NATS JetStream stream, any
// number of [Worker]s in any number of processes run them, and a job whose
// process dies runs elsewhere. It is its own Go module, so that the core
// module gains no NATS dependency.
//
//	nc, _ := nats.Connect(url)
//	js, _ := jetstream.New(nc)
//	cfg := jsqueue.Config{Stream: "EMAILS", AckWait: 30 * time.Second}
//	if err := jsqueue.Provision(ctx, js, cfg); err != nil { // idempotent
//		return err
//	}
//	p, _ := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[Email]{
//		Key: func(e Email) string { return e.ID }, // dedup within Config.Duplicates
//	})
//	err := p.Submit(ctx, Email{ID: "42", To: "a@example.com"}) // durable once nil
//
//	// In each worker process:
//	w, err := jsqueue.New(ctx, js, cfg, func(ctx context.Context, e Email) error {
//		d, _ := jsqueue.DeliveryOf(ctx) // d.ID is the same on every delivery
//		return send(ctx, d.ID, e)       // must be idempotent: at-least-once
//	}, jsqueue.Options[Email]{Workers: 8, AttemptTimeout: time.Minute})
//	...
//	err = w.Shutdown(ctx) // release unstarted jobs, finish running ones
//
// # How workqueue's contract maps onto JetStream
//
// A work stream with work-queue retention holds the jobs; one durable pull
// consumer, shared by every Worker, hands them out; a second stream holds the
// dead letters. [Provision] creates or updates all three.
//
//   - Submit → a publish acknowledged by the stream, with the job's
//     idempotency key as Nats-Msg-Id (a second job with the same key within
//     Config.Duplicates is discarded).
//   - Backpressure → the stream's MaxMsgs/MaxBytes with DiscardNew:
//     [Producer.Submit] waits for room, [Producer.TrySubmit] returns ErrFull.
//     [Producer.SubmitBatch] uses asynchronous publishes and waits out
//     ErrTooManyStalledMsgs.
//   - A retry → the delivery is negatively acknowledged with the retry
//     policy's delay (NakWithDelay): the job waits in the server, holding no
//     worker, and then runs on whichever worker fetches it.
//   - The dead letter → the worker publishes a copy of the job, with its
//     final error in headers ([HeaderError] ...), to the dead-letter stream,
//     and only once the stream acknowledged it terminates the delivery.
//   - The attempt timeout → AttemptTimeout as in workqueue. The lease of a
//     delivery (the consumer's AckWait) is kept with InProgress heartbeats, so
//     long jobs are not redelivered while they run, and a crashed process's
//     jobs come back after AckWait.
//   - Panics and runtime.Goexit in handlers → failed attempts, recovered by
//     the local workqueue.Queue that runs the handlers (nats.go recovers
//     nothing).
//
// # Where the semantics differ from the in-memory queue
//
// Delivery is at least once. A job runs again if its process dies, if its
// lease is lost, or if an acknowledgement is lost; handlers must be
// idempotent, and [DeliveryOf] gives them [Delivery.ID] (the job's key, the
// same on every delivery) to key their side effects on.
//
// [Options.OnResult] receives one [Result] per delivery this process
// fetched, not one per job, and only [OutcomeSucceeded] and
// [OutcomeFailed] are terminal. [OutcomeRetrying] (NakWithDelay),
// [OutcomeReleased] (given back at shutdown) and [OutcomeAbandoned] (lease
// lost) mean the job will be delivered again, possibly to another process.
// There are no Canceled or Dropped outcomes: what a forced shutdown cancels
// or never starts is released. There is no Wait: a process cannot know when
// a distributed queue is empty for good.
//
// [Worker.Shutdown] stops fetching and releases at once (Nak without delay)
// every job fetched but not started, so that it runs elsewhere now rather
// than after AckWait; running jobs finish, or are canceled and released when
// Shutdown's context ends.
//
// The attempt number ([Attempt], [Delivery.Attempt]) is the server's count
// of deliveries. A process crash uses up one delivery of every job the
// process held (Workers+Prefetch of them), not only of the one that crashed
// it; set Config.MaxDeliver (default 10) with room above the retry policy's
// MaxAttempts (default 5). After a hard broker crash the count can go back,
// so a job may run twice with Attempt 1 both times: use Delivery.ID, not the
// attempt, to detect repeats.
//
// # The lease rule
//
// The server accepts a settle (Ack, Nak, Term) from a delivery whose AckWait
// has passed, even though it has redelivered the job meanwhile: a late Term
// deletes the job the live worker is running, a late Nak starts a third copy
// (nats-server #4786). So a Worker keeps a local lease for each delivery it
// holds, counted from the start of the fetch that brought it and extended
// only by heartbeats the server confirmed, at 90% of AckWait; it never
// settles or sends a heartbeat once that lease has passed. Such a delivery
// is reported [OutcomeAbandoned] with [ErrLeaseExpired], and a running
// handler's context is canceled with that cause. The 10% margin assumes a
// one-way delay to the server below a tenth of AckWait.
//
// # Dead letters that no worker decided
//
// A job that kills its process on every delivery never returns an error to
// a worker. When its deliveries reach Config.MaxDeliver the server stops
// delivering it, leaves it in the work stream with nothing pending, and
// publishes a MAX_DELIVERIES advisory (when it next looks for a job to
// deliver, on a worker's pull). The dead-letter stream captures those
// advisories (subject $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>,
// with the job's stream_seq in the JSON), so they are not lost, whether or
// not a worker was up. A job that fails its last allowed delivery by
// returning an error is dead-lettered by the worker itself, before the
// server gives up on it. [ParseDeadLetter] reads either kind of dead letter.
//
// # Memory
//
// A Worker holds at most Workers+Prefetch deliveries ([Options.Prefetch]);
// the consumer's MaxAckPending ([Config.MaxAckPending]) bounds the
// deliveries outstanding across every worker of the cluster, and the
// stream's MaxMsgs/MaxBytes bound the backlog.
//
// # Durability
//
// A job is as durable as the stream that acknowledged it. With file storage
// on a single server (Replicas 1) the server writes each message to its files
// before acknowledging, but syncs them to disk only every 2 minutes by
// default (the server's jetstream sync_interval): a process crash of the
// server loses nothing, while a power loss or kernel crash can lose the jobs
// and acknowledgements of the last two minutes (acknowledged jobs vanish;
// acknowledged completions roll back, so jobs run again). Two remedies: run
// a cluster and set Config.Replicas to 3 (or 5), so that a job is
// acknowledged only once a majority of servers stored it and one machine's
// loss costs nothing; or set the server's sync_interval to "always"
// (SyncAlways), which syncs every write at a large cost in throughput.
// Memory storage (Config.Storage) loses everything when the server stops.
//
// # Goroutines
//
// A Producer owns no goroutine. A Worker owns one fetching goroutine, one
// keeping leases, and those of its local workqueue.Queue (Workers, plus a
// retry scheduler); [Worker.Shutdown] returns after all have exited. Neither
// closes the caller's NATS connection.
package jsqueue

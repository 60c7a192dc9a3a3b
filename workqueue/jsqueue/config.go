package jsqueue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for zero fields of [Config].
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 10
	DefaultMaxAckPending = 1000
	DefaultDuplicates    = 2 * time.Minute
)

// Config names the JetStream objects of one queue and sets their limits. The
// same Config is given to [Provision], [NewProducer] and [New]; only Stream is
// required.
type Config struct {
	// Stream is the name of the work stream (required; letters, digits, '-'
	// and '_'). It has work-queue retention: a job is removed once acked or
	// terminated.
	Stream string

	// Subject is the subject jobs are published on and the work stream's only
	// subject. Empty means "jsqueue.<Stream>".
	Subject string

	// Consumer is the name of the durable pull consumer that every Worker of
	// the queue shares. Empty means "workers".
	Consumer string

	// DeadLetterStream is the name of the stream receiving dead letters.
	// Empty means "<Stream>_DLQ". It captures two subjects: DeadLetterSubject
	// (a copy of each job a worker dead-lettered, with its error in headers,
	// see [HeaderError]) and the server's MAX_DELIVERIES advisories for the
	// consumer (a job whose deliveries ran out without a worker deciding,
	// such as a job that crashes its process each time), so that neither is
	// lost when no worker is up.
	DeadLetterStream string

	// DeadLetterSubject is the subject dead letters are published on. Empty
	// means "<Subject>.dead".
	DeadLetterSubject string

	// AckWait is the lease of one delivery: if the worker neither settles it
	// nor sends a heartbeat within AckWait, the server redelivers it. Workers
	// keep the lease of each job they hold with InProgress heartbeats, so
	// AckWait bounds how long a job of a dead worker waits, not how long a
	// job may run. Zero means DefaultAckWait (30s); at least 100ms.
	AckWait time.Duration

	// MaxDeliver bounds the deliveries of one job. Workers dead-letter a job
	// whose last allowed delivery fails, whatever the retry policy says; a job
	// whose deliveries run out without a worker settling it (its worker
	// crashed or lost its lease each time) stays in the work stream with
	// nothing pending, and the server's advisory for it is captured in the
	// dead-letter stream. Zero means DefaultMaxDeliver (10); -1 means no
	// limit.
	MaxDeliver int

	// MaxAckPending bounds the deliveries outstanding (fetched and not yet
	// settled) across every worker of the queue: the cluster-wide memory
	// bound. Zero means DefaultMaxAckPending (1000).
	MaxAckPending int

	// MaxMsgs and MaxBytes bound the work stream (jobs waiting plus jobs
	// being worked on). A full stream refuses new jobs (DiscardNew):
	// Producer.Submit waits and Producer.TrySubmit returns ErrFull. Zero
	// means no limit.
	MaxMsgs  int64
	MaxBytes int64

	// Duplicates is the window in which a second job with the same
	// idempotency key (the Nats-Msg-Id header) is discarded by the server.
	// Zero means DefaultDuplicates (2 minutes).
	Duplicates time.Duration

	// Replicas is the number of copies of each stream in a cluster (1, 3 or
	// 5). Zero means 1. See the package doc on durability.
	Replicas int

	// Storage is the streams' storage. The zero value is
	// jetstream.FileStorage.
	Storage jetstream.StorageType
}

// resolved returns c with the defaults applied, or an error wrapping
// ErrInvalidOptions that names the bad field.
func (c Config) resolved() (Config, error) {
	if err := checkName("Stream", c.Stream, true); err != nil {
		return c, err
	}
	if c.Subject == "" {
		c.Subject = "jsqueue." + c.Stream
	}
	if c.Consumer == "" {
		c.Consumer = "workers"
	}
	if c.DeadLetterStream == "" {
		c.DeadLetterStream = c.Stream + "_DLQ"
	}
	if c.DeadLetterSubject == "" {
		c.DeadLetterSubject = c.Subject + ".dead"
	}
	for _, f := range []struct{ name, v string }{{"Consumer", c.Consumer}, {"DeadLetterStream", c.DeadLetterStream}} {
		if err := checkName(f.name, f.v, false); err != nil {
			return c, err
		}
	}
	for _, f := range []struct{ name, v string }{{"Subject", c.Subject}, {"DeadLetterSubject", c.DeadLetterSubject}} {
		if strings.ContainsAny(f.v, " \t\r\n*>") || strings.HasPrefix(f.v, ".") || strings.HasSuffix(f.v, ".") || strings.Contains(f.v, "..") {
			return c, invalid("Config.%s = %q, want a literal subject (no spaces or wildcards)", f.name, f.v)
		}
	}
	switch {
	case c.Subject == c.DeadLetterSubject:
		return c, invalid("Config.DeadLetterSubject = %q, the same as Subject", c.DeadLetterSubject)
	case c.Stream == c.DeadLetterStream:
		return c, invalid("Config.DeadLetterStream = %q, the same as Stream", c.DeadLetterStream)
	case c.AckWait < 0 || (c.AckWait > 0 && c.AckWait < 100*time.Millisecond):
		return c, invalid("Config.AckWait = %v, want 0 (default) or at least 100ms", c.AckWait)
	case c.MaxDeliver < -1 || c.MaxDeliver == 1:
		return c, invalid("Config.MaxDeliver = %d, want 0 (default), -1 (no limit) or at least 2", c.MaxDeliver)
	case c.MaxAckPending < 0:
		return c, invalid("Config.MaxAckPending = %d, want 0 (default) or more", c.MaxAckPending)
	case c.MaxMsgs < 0:
		return c, invalid("Config.MaxMsgs = %d, want 0 (no limit) or more", c.MaxMsgs)
	case c.MaxBytes < 0:
		return c, invalid("Config.MaxBytes = %d, want 0 (no limit) or more", c.MaxBytes)
	case c.Duplicates < 0:
		return c, invalid("Config.Duplicates = %v, want 0 (default) or more", c.Duplicates)
	case c.Replicas < 0 || c.Replicas > 5:
		return c, invalid("Config.Replicas = %d, want 0 (default 1) to 5", c.Replicas)
	case c.Storage != jetstream.FileStorage && c.Storage != jetstream.MemoryStorage:
		return c, invalid("Config.Storage = %v, want jetstream.FileStorage or jetstream.MemoryStorage", c.Storage)
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	return c, nil
}

func checkName(field, v string, required bool) error {
	if v == "" {
		if required {
			return invalid("Config.%s is empty", field)
		}
		return nil
	}
	for _, r := range v {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return invalid("Config.%s = %q, want letters, digits, '-' and '_'", field, v)
		}
	}
	return nil
}

// advisorySubject is the subject of the server's MAX_DELIVERIES advisories
// for the queue's consumer.
func (c Config) advisorySubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.Stream + "." + c.Consumer
}

func (c Config) streamConfig() jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:       c.Stream,
		Subjects:   []string{c.Subject},
		Retention:  jetstream.WorkQueuePolicy,
		Discard:    jetstream.DiscardNew,
		MaxMsgs:    -1,
		MaxBytes:   -1,
		Duplicates: c.Duplicates,
		Replicas:   c.Replicas,
		Storage:    c.Storage,
	}
	if c.MaxMsgs > 0 {
		sc.MaxMsgs = c.MaxMsgs
	}
	if c.MaxBytes > 0 {
		sc.MaxBytes = c.MaxBytes
	}
	return sc
}

func (c Config) deadLetterStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       c.DeadLetterStream,
		Subjects:   []string{c.DeadLetterSubject, c.advisorySubject()},
		Retention:  jetstream.LimitsPolicy,
		Duplicates: c.Duplicates,
		Replicas:   c.Replicas,
		Storage:    c.Storage,
	}
}

func (c Config) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       c.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Provision creates the work stream, the dead-letter stream and the durable
// consumer described by cfg, or updates them to match it. It is idempotent:
// every Worker or deploy step may call it; calling it again with the same
// Config changes nothing. It returns an error wrapping ErrInvalidOptions for
// a bad Config, and the server's error if a stream or consumer exists with a
// setting that cannot be changed (such as its storage) or ctx ends. The
// dead-letter stream is created before the consumer, so that no
// MAX_DELIVERIES advisory of the consumer can go uncaptured.
func Provision(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	c, err := cfg.resolved()
	if err != nil {
		return err
	}
	if _, err := js.CreateOrUpdateStream(ctx, c.deadLetterStreamConfig()); err != nil {
		return fmt.Errorf("jsqueue: provision dead-letter stream %s: %w", c.DeadLetterStream, err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, c.streamConfig()); err != nil {
		return fmt.Errorf("jsqueue: provision stream %s: %w", c.Stream, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.consumerConfig()); err != nil {
		return fmt.Errorf("jsqueue: provision consumer %s on %s: %w", c.Consumer, c.Stream, err)
	}
	return nil
}

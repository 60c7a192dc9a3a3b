package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// natsChildEnv, when set to "<port> <store dir> <sync always>", makes this binary run
// nats-server (JetStream, file storage in the store dir) instead of the
// benchmark: the broker gets its own process, as redis-server and PostgreSQL
// do.
const natsChildEnv = "JOBQUEUES_NATS_CHILD"

// natsChild runs the broker if this process is the nats-server child, and
// then reports true.
func natsChild() bool {
	spec := os.Getenv(natsChildEnv)
	if spec == "" {
		return false
	}
	var port int
	var dir string
	var always bool
	if _, err := fmt.Sscanf(spec, "%d %s %t", &port, &dir, &always); err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		os.Exit(2)
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		SyncAlways: always,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats child:", err)
		os.Exit(2)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "nats child: not ready")
		os.Exit(2)
	}
	fmt.Println("READY")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return true
}

type jsEngine struct {
	dir    string
	srv    *child
	url    string
	pubNC  *nats.Conn // the producer's connection
	workNC *nats.Conn // the workers' connection
	pub    jetstream.JetStream
	work   jetstream.JetStream
}

func (e *jsEngine) Name() string { return "jsqueue" }

func (e *jsEngine) Versions() string {
	return fmt.Sprintf("nats-server %s (embedded, own process), nats.go %s, jsqueue %s",
		moduleVersion("github.com/nats-io/nats-server/v2"), moduleVersion("github.com/nats-io/nats.go"),
		moduleVersion("github.com/sluicego/sluice/workqueue/jsqueue"))
}

func (e *jsEngine) Durability() string {
	if *natsSyncAlways {
		return "JetStream file storage, 1 replica, sync_interval: always (fsync on every write): a job is fsynced when acknowledged; nothing is lost on any crash"
	}
	return "JetStream file storage, 1 replica, default sync_interval (fsync every 2 min): a job is stored when acknowledged; a broker process crash loses nothing, a machine crash can lose the last 2 min"
}

func (e *jsEngine) Start(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if e.dir, err = os.MkdirTemp("", "jobqueues-nats-"); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s %t", natsChildEnv, port, e.dir, *natsSyncAlways))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	c := &child{name: "nats-server", cmd: cmd, out: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.out
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = c.out.Write(append(sc.Bytes(), '\n'))
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	e.srv = c
	e.url = "nats://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(ctx, c, 30*time.Second, func(context.Context) error {
		nc, err := nats.Connect(e.url)
		if err == nil {
			nc.Close()
		}
		return err
	}); err != nil {
		return err
	}
	if e.pubNC, err = nats.Connect(e.url); err != nil {
		return err
	}
	if e.workNC, err = nats.Connect(e.url); err != nil {
		return err
	}
	if e.pub, err = jetstream.New(e.pubNC); err != nil {
		return err
	}
	e.work, err = jetstream.New(e.workNC)
	return err
}

func (e *jsEngine) Close() {
	if e.pubNC != nil {
		e.pubNC.Close()
	}
	if e.workNC != nil {
		e.workNC.Close()
	}
	if e.srv != nil {
		e.srv.stop(syscall.SIGTERM)
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func (e *jsEngine) config(q string) jsqueue.Config { return jsqueue.Config{Stream: q} }

func (e *jsEngine) NewQueue(ctx context.Context, q string) error {
	return jsqueue.Provision(ctx, e.pub, e.config(q))
}

func (e *jsEngine) Enqueue(ctx context.Context, q string, n int) error {
	p, err := jsqueue.NewProducer(e.pub, e.config(q), jsqueue.ProducerOptions[int]{})
	if err != nil {
		return err
	}
	defer p.Close()
	jobs := make([]int, 0, *batch)
	for lo := 0; lo < n; lo += *batch {
		jobs = jobs[:0]
		for i := lo; i < min(lo+*batch, n); i++ {
			jobs = append(jobs, i)
		}
		if err := p.SubmitBatch(ctx, jobs); err != nil {
			return err
		}
	}
	return nil
}

func (e *jsEngine) Work(ctx context.Context, q string, t *tally) (func() error, error) {
	w, err := jsqueue.New(ctx, e.work, e.config(q), func(_ context.Context, job int) error {
		t.hit(job)
		return nil
	}, jsqueue.Options[int]{Workers: *workers, Prefetch: *prefetch})
	if err != nil {
		return nil, err
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return w.Shutdown(ctx)
	}, nil
}

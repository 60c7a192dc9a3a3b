// Command distributed runs a jsqueue queue across processes, offline: it
// starts an embedded nats-server (file storage in a temporary directory, on
// a random loopback port), starts N worker processes (this same program,
// re-executed), submits jobs, waits until every job has been done, and stops
// the workers gracefully.
//
//	go run ./examples/distributed -workers 3 -jobs 1000
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// workerEnv, when set, makes this process a worker connecting to its value.
const workerEnv = "JSQUEUE_EXAMPLE_WORKER_URL"

var cfg = jsqueue.Config{Stream: "SQUARES", AckWait: 5 * time.Second}

// Job is what the queue carries.
type Job struct {
	N int `json:"n"`
}

func main() {
	if url := os.Getenv(workerEnv); url != "" {
		if err := worker(url); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	workers := flag.Int("workers", 3, "worker processes")
	jobs := flag.Int("jobs", 1000, "jobs to submit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *workers, *jobs, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is the whole demonstration; it writes its report to out.
func run(ctx context.Context, workers, jobs int, out io.Writer) error {
	dir, err := os.MkdirTemp("", "jsqueue-distributed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	srv.Start()
	defer srv.WaitForShutdown()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("nats-server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := jsqueue.Provision(ctx, js, cfg); err != nil {
		return err
	}

	// Workers report each job done on a plain subject (for this report only).
	var mu sync.Mutex
	doneBy := map[string]string{} // job ID -> worker
	allDone := make(chan struct{})
	sub, err := nc.Subscribe("example.done", func(m *nats.Msg) {
		id, who, _ := strings.Cut(string(m.Data), " ")
		mu.Lock()
		defer mu.Unlock()
		doneBy[id] = who
		if len(doneBy) == jobs {
			close(allDone)
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	procs := make([]*exec.Cmd, workers)
	for i := range procs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), workerEnv+"="+srv.ClientURL(), "JSQUEUE_EXAMPLE_NAME=worker-"+strconv.Itoa(i+1))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		if !bufio.NewScanner(stdout).Scan() { // its READY line
			return fmt.Errorf("worker %d did not start", i+1)
		}
		procs[i] = cmd
	}

	p, err := jsqueue.NewProducer(js, cfg, jsqueue.ProducerOptions[Job]{
		Key: func(j Job) string { return "square-" + strconv.Itoa(j.N) },
	})
	if err != nil {
		return err
	}
	batch := make([]Job, jobs)
	for i := range batch {
		batch[i] = Job{N: i}
	}
	start := time.Now()
	if err := p.SubmitBatch(ctx, batch); err != nil {
		return err
	}
	select {
	case <-allDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	elapsed := time.Since(start)
	for _, cmd := range procs {
		_ = cmd.Process.Signal(syscall.SIGTERM) // graceful: Shutdown
	}
	for _, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	perWorker := map[string]int{}
	for _, who := range doneBy {
		perWorker[who]++
	}
	names := make([]string, 0, len(perWorker))
	for who := range perWorker {
		names = append(names, who)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "%d jobs done by %d worker processes in %v\n", len(doneBy), len(perWorker), elapsed.Round(time.Millisecond))
	for _, who := range names {
		fmt.Fprintf(out, "  %s: %d\n", who, perWorker[who])
	}
	return nil
}

// worker runs one worker process until SIGTERM.
func worker(url string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name := os.Getenv("JSQUEUE_EXAMPLE_NAME")
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	w, err := jsqueue.New(ctx, js, cfg, func(ctx context.Context, j Job) error {
		d, _ := jsqueue.DeliveryOf(ctx)
		_ = j.N * j.N // the work
		// The report goes out before the ack: at least once.
		return nc.Publish("example.done", []byte(d.ID+" "+name))
	}, jsqueue.Options[Job]{Workers: 4})
	if err != nil {
		return err
	}
	fmt.Println("READY")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Shutdown(sctx); err != nil {
		return err
	}
	return nc.Flush()
}

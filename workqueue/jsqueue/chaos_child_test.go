package jsqueue_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluicego/sluice/workqueue/jsqueue"
)

// The chaos test re-executes its own binary as a broker process or a worker
// process; TestMain sends such a process here instead of running tests.
const (
	chaosRoleEnv = "JSQUEUE_CHAOS_ROLE" // "broker" or "worker"
	chaosURLEnv  = "JSQUEUE_CHAOS_URL"  // worker: the broker's URL
	chaosDirEnv  = "JSQUEUE_CHAOS_DIR"  // broker: its store directory
	chaosPortEnv = "JSQUEUE_CHAOS_PORT" // broker: its port
)

// chaosJob is a job of the chaos test. A Poison job makes its worker
// process exit without settling it.
type chaosJob struct {
	N      int  `json:"n"`
	Poison bool `json:"poison,omitempty"`
}

// chaosDoneSubject receives one record per completed run of a handler; the
// test counts lost and duplicate jobs from them.
const (
	chaosDoneStream  = "CHAOS_DONE"
	chaosDoneSubject = "chaos.done"
	chaosWorkers     = 8
	chaosPrefetch    = 8
)

func chaosConfig() jsqueue.Config {
	return jsqueue.Config{Stream: "CHAOS", AckWait: 2 * time.Second, MaxDeliver: 3, MaxAckPending: 10000}
}

// chaosChild runs this process as a chaos broker or worker and returns its
// exit code.
func chaosChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch role := os.Getenv(chaosRoleEnv); role {
	case "broker":
		err = chaosBroker(ctx)
	case "worker":
		err = chaosWorker(ctx)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos child:", err)
		return 1
	}
	return 0
}

func chaosBroker(ctx context.Context) error {
	port, err := strconv.Atoi(os.Getenv(chaosPortEnv))
	if err != nil {
		return err
	}
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: os.Getenv(chaosDirEnv), NoLog: true, NoSigs: true,
	})
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("broker not ready")
	}
	fmt.Println("READY")
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

func chaosWorker(ctx context.Context) error {
	nc, err := nats.Connect(os.Getenv(chaosURLEnv), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	w, err := jsqueue.New(ctx, js, chaosConfig(), func(ctx context.Context, job chaosJob) error {
		if job.Poison {
			os.Exit(3) // crash without settling, every time
		}
		d, _ := jsqueue.DeliveryOf(ctx)
		_, err := js.Publish(ctx, chaosDoneSubject, []byte(d.ID))
		return err
	}, jsqueue.Options[chaosJob]{Workers: chaosWorkers, Prefetch: chaosPrefetch})
	if err != nil {
		return err
	}
	fmt.Println("READY")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = w.Shutdown(sctx)
	b, _ := json.Marshal(w.Stats())
	fmt.Printf("STATS %s\n", b)
	return err
}

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
)

type asynqEngine struct {
	dir  string
	srv  *child
	addr string
	bin  string
}

func (e *asynqEngine) Name() string { return "asynq" }

func (e *asynqEngine) Versions() string {
	v, _, _ := strings.Cut(commandVersion(e.bin, "--version"), " sha=")
	return fmt.Sprintf("%s, asynq %s, go-redis %s", v,
		moduleVersion("github.com/hibiken/asynq"), moduleVersion("github.com/redis/go-redis/v9"))
}

func (e *asynqEngine) Durability() string {
	return "redis-server --appendonly yes --appendfsync everysec --save \"\": a job is in the AOF when Enqueue returns, fsynced within 1 s; a redis process crash loses nothing, a machine crash can lose the last second"
}

func (e *asynqEngine) Start(ctx context.Context) error {
	e.bin = lookPath("redis-server", "/usr/bin/redis-server")
	if e.bin == "" {
		return &skipError{"no redis-server (Debian/Ubuntu: apt-get install -y --no-install-recommends redis-server)"}
	}
	var err error
	if e.dir, err = os.MkdirTemp("", "jobqueues-redis-"); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	e.addr = "127.0.0.1:" + strconv.Itoa(port)
	e.srv, err = startChild("redis-server", exec.Command(e.bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--dir", e.dir))
	if err != nil {
		return err
	}
	return waitReady(ctx, e.srv, 30*time.Second, func(context.Context) error {
		c, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return err
		}
		buf := make([]byte, 7)
		if _, err := c.Read(buf); err != nil {
			return err
		}
		if string(buf) != "+PONG\r\n" {
			return fmt.Errorf("PING: %q", buf)
		}
		return nil
	})
}

func (e *asynqEngine) Close() {
	if e.srv != nil {
		e.srv.stop(syscall.SIGTERM)
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func (e *asynqEngine) redis() asynq.RedisClientOpt { return asynq.RedisClientOpt{Addr: e.addr} }

// NewQueue: asynq creates a queue on its first task.
func (e *asynqEngine) NewQueue(context.Context, string) error { return nil }

func (e *asynqEngine) Enqueue(ctx context.Context, q string, n int) error {
	c := asynq.NewClient(e.redis())
	defer c.Close()
	var next int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range *producers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := firstErr != nil
				mu.Unlock()
				if stop || i >= int64(n) {
					return
				}
				task := asynq.NewTask("tiny", strconv.AppendInt(nil, i, 10))
				if _, err := c.EnqueueContext(ctx, task, asynq.Queue(q)); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

func (e *asynqEngine) Work(_ context.Context, q string, t *tally) (func() error, error) {
	srv := asynq.NewServer(e.redis(), asynq.Config{
		Concurrency:       *workers,
		Queues:            map[string]int{q: 1},
		TaskCheckInterval: *pollEvery,
		LogLevel:          asynq.ErrorLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		i, err := strconv.Atoi(string(task.Payload()))
		if err != nil {
			return err
		}
		t.hit(i)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return func() error { srv.Shutdown(); return nil }, nil
}

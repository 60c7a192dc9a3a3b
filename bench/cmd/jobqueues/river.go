package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// tinyArgs is river's job: a number.
type tinyArgs struct {
	N int `json:"n"`
}

func (tinyArgs) Kind() string { return "tiny" }

type riverEngine struct {
	dir     string
	binDir  string
	srv     *child
	pool    *pgxpool.Pool
	version string
}

func (e *riverEngine) Name() string { return "river" }

func (e *riverEngine) Versions() string {
	return fmt.Sprintf("%s, river %s, pgx %s", e.version,
		moduleVersion("github.com/riverqueue/river"), moduleVersion("github.com/jackc/pgx/v5"))
}

func (e *riverEngine) Durability() string {
	return "PostgreSQL defaults (fsync on, synchronous_commit on, full_page_writes on): a job is fsynced to the WAL when InsertMany returns; nothing is lost on any crash"
}

// pgBinDir finds initdb and postgres: $PG_BIN, else the newest
// /usr/lib/postgresql/<ver>/bin.
func pgBinDir() string {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func (e *riverEngine) Start(ctx context.Context) error {
	e.binDir = pgBinDir()
	if e.binDir == "" {
		return &skipError{"no PostgreSQL server binaries in /usr/lib/postgresql/<ver>/bin or $PG_BIN (Debian/Ubuntu: apt-get install -y --no-install-recommends postgresql)"}
	}
	e.version = commandVersion(filepath.Join(e.binDir, "postgres"), "--version")
	var err error
	if e.dir, err = os.MkdirTemp("", "jobqueues-pg-"); err != nil {
		return err
	}
	// PostgreSQL refuses to run as root: run it as the postgres user then.
	var uid, gid uint32
	asOther := os.Geteuid() == 0
	if asOther {
		u, err := user.Lookup("postgres")
		if err != nil {
			return &skipError{"running as root and there is no postgres user to run PostgreSQL as (the Debian package creates it)"}
		}
		id, _ := strconv.Atoi(u.Uid)
		g, _ := strconv.Atoi(u.Gid)
		uid, gid = uint32(id), uint32(g)
		if err := os.Chown(e.dir, id, g); err != nil {
			return err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(e.binDir, name), args...)
		cmd.Dir = e.dir
		if asOther {
			runAs(cmd, uid, gid)
		}
		return cmd
	}
	data := filepath.Join(e.dir, "data")
	if out, err := command("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	e.srv, err = startChild("postgres", command("postgres", "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-k", e.dir))
	if err != nil {
		return err
	}
	if e.pool, err = pgxpool.New(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&pool_max_conns=20", port)); err != nil {
		return err
	}
	if err := waitReady(ctx, e.srv, 60*time.Second, e.pool.Ping); err != nil {
		return err
	}
	m, err := rivermigrate.New(riverpgxv5.New(e.pool), &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

func (e *riverEngine) Close() {
	if e.pool != nil {
		e.pool.Close()
	}
	if e.srv != nil {
		e.srv.stop(syscall.SIGINT) // fast shutdown
	}
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// NewQueue empties river's job table: completed jobs are kept for a day by
// default, and each run should start from the same table.
func (e *riverEngine) NewQueue(ctx context.Context, _ string) error {
	_, err := e.pool.Exec(ctx, "TRUNCATE river_job")
	return err
}

func (e *riverEngine) Enqueue(ctx context.Context, q string, n int) error {
	reg := river.NewWorkers()
	river.AddWorker(reg, river.WorkFunc(func(context.Context, *river.Job[tinyArgs]) error { return nil }))
	c, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{Workers: reg, Logger: quietLogger()})
	if err != nil {
		return err
	}
	opts := &river.InsertOpts{Queue: q}
	params := make([]river.InsertManyParams, 0, *batch)
	for lo := 0; lo < n; lo += *batch {
		params = params[:0]
		for i := lo; i < min(lo+*batch, n); i++ {
			params = append(params, river.InsertManyParams{Args: tinyArgs{N: i}, InsertOpts: opts})
		}
		if _, err := c.InsertMany(ctx, params); err != nil {
			return err
		}
	}
	return nil
}

func (e *riverEngine) Work(ctx context.Context, q string, t *tally) (func() error, error) {
	reg := river.NewWorkers()
	river.AddWorker(reg, river.WorkFunc(func(_ context.Context, job *river.Job[tinyArgs]) error {
		t.hit(job.Args.N)
		return nil
	}))
	c, err := river.NewClient(riverpgxv5.New(e.pool), &river.Config{
		Queues:        map[string]river.QueueConfig{q: {MaxWorkers: *workers}},
		Workers:       reg,
		FetchCooldown: *pollEvery,
		Logger:        quietLogger(),
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return c.Stop(ctx)
	}, nil
}

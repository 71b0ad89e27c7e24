package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/procfs"

	"xmpp-invites/internal/pgtest"
	"xmpp-invites/keystore"
)

// The PostgreSQL part. With -database, invite creation and the landing
// page are measured a second time, on PostgreSQL, by another xmpp-invites
// serve beside the SQLite one, with its own ceiling: the trivial handler
// answering only after one single-row INSERT committed on the same
// PostgreSQL server (autocommit, one round trip, through a pool as large
// as keystore's). Both get a fresh schema of their own in the database,
// dropped at the end, so that runs compare.

// pgPrivate is the -database value that starts a private, durable cluster
// through internal/pgtest for the run.
const pgPrivate = "pgtest"

// envCeilingPG passes the ceiling's PostgreSQL URL to its child process:
// in the environment, not on the command line, where ps would show a
// password.
const envCeilingPG = "INVITES_BENCH_CEILING_PG"

// pgCeilingConns is the ceiling's pool size: keystore's (pgMaxConns).
const pgCeilingConns = 20

// checkDatabase validates -database: pgPrivate, or a postgres:// URL whose
// every host is a loopback IP address. Benchmarks send nothing beyond
// 127.0.0.0/8 and ::1, so names (even localhost) and Unix sockets are
// refused too. The password never appears in the error.
func checkDatabase(database string) error {
	if database == pgPrivate {
		return nil
	}
	if !keystore.IsPostgres(database) {
		return fmt.Errorf("want a postgres:// URL on 127.0.0.1 or ::1, or %q for a private cluster", pgPrivate)
	}
	name := keystore.Redact(database)
	cfg, err := pgconn.ParseConfig(database)
	if err != nil {
		msg := err.Error()
		if u, perr := url.Parse(database); perr == nil {
			if p, ok := u.User.Password(); ok && p != "" {
				msg = strings.ReplaceAll(msg, p, "xxxxx")
			}
		}
		return fmt.Errorf("%s: %s", name, msg)
	}
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%s: host %q is not a loopback address: the benchmark only connects to 127.0.0.1 or ::1 (write the address, not a name or a socket directory)", name, h)
		}
	}
	return nil
}

// pgFacts describes the PostgreSQL server measured.
type pgFacts struct {
	Database          string `json:"database"` // password redacted
	Private           bool   `json:"private_cluster"`
	Version           string `json:"server_version"`
	Fsync             string `json:"fsync"`
	SynchronousCommit string `json:"synchronous_commit"`
	FullPageWrites    string `json:"full_page_writes"`
	WalSyncMethod     string `json:"wal_sync_method"`
	Schema            string `json:"schema"`             // xmpp-invites'; the ceiling's is Schema_ceiling
	CPUCounted        bool   `json:"server_cpu_counted"` // the server's processes found in /proc
}

// pgSetup is the PostgreSQL side of a run.
type pgSetup struct {
	url, ceilingURL string // with search_path set to each one's schema
	postmaster      int    // 0: not found in this machine's /proc
}

// startPostgres starts the private cluster or checks the given database,
// makes the two schemas and the ceiling's table, and reads the settings
// that bound a commit. Cleaning up (schemas, cluster) is added to b.stops.
func (b *bench) startPostgres(ctx context.Context) (*pgSetup, error) {
	base := b.o.database
	facts := &pgFacts{Database: keystore.Redact(base)}
	b.res.Postgres = facts
	var cluster *pgtest.Cluster
	if base == pgPrivate {
		// On the disk being measured, beside the work directory (the
		// postgres user cannot enter that one), durable like a real one.
		parent := b.o.dir
		if parent == "" {
			parent = os.TempDir()
		}
		b.logf("starting a private durable PostgreSQL cluster in %s", parent)
		c, err := pgtest.NewWith(pgtest.Options{Parent: parent, Durable: true})
		if err != nil {
			return nil, fmt.Errorf("-database %s: %w", pgPrivate, err)
		}
		b.stops = append(b.stops, c.Stop)
		cluster, base = c, c.URL("postgres")
		facts.Database = fmt.Sprintf("private cluster (internal/pgtest, durable) in %s, %s", c.Dir, keystore.Redact(base))
		facts.Private = true
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: %w", facts.Database, err)
	}
	defer conn.Close(context.Background())
	for _, s := range []struct {
		name string
		to   *string
	}{
		{"server_version", &facts.Version}, {"fsync", &facts.Fsync}, {"synchronous_commit", &facts.SynchronousCommit},
		{"full_page_writes", &facts.FullPageWrites}, {"wal_sync_method", &facts.WalSyncMethod},
	} {
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", s.name).Scan(s.to); err != nil {
			return nil, fmt.Errorf("PostgreSQL %s: read %s: %w", facts.Database, s.name, err)
		}
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	schema := "invites_bench_" + hex.EncodeToString(rnd)
	ceiling := schema + "_ceiling"
	facts.Schema = schema
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: a fresh schema for the run: %w", facts.Database, err)
	}
	drop := func() {
		if b.o.keep {
			b.logf("PostgreSQL schemas %s and %s kept", schema, ceiling)
			return
		}
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, err = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+", "+ceiling+" CASCADE")
			c.Close(context.Background())
		}
		if err != nil {
			b.logf("PostgreSQL: could not drop the schemas %s and %s: %v", schema, ceiling, err)
		}
	}
	// After the cluster's Stop in b.stops, so it runs before it.
	b.stops = append(b.stops, drop)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ceiling); err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: %w", facts.Database, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE "+ceiling+".commits (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n BIGINT NOT NULL)"); err != nil {
		return nil, fmt.Errorf("PostgreSQL %s: %w", facts.Database, err)
	}
	pg := &pgSetup{url: withSearchPath(base, schema), ceilingURL: withSearchPath(base, ceiling)}
	if cluster != nil {
		pg.postmaster = cluster.PID()
	} else {
		var backend int
		if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err == nil {
			pg.postmaster = postmasterOf(backend)
		}
	}
	facts.CPUCounted = pg.postmaster != 0
	if !facts.CPUCounted {
		b.res.Notes = append(b.res.Notes, "PostgreSQL's processes are not in this machine's /proc: its CPU counts as others'")
	}
	b.logf("PostgreSQL %s %s: fsync %s, synchronous_commit %s; schema %s", facts.Database, facts.Version,
		facts.Fsync, facts.SynchronousCommit, schema)
	return pg, nil
}

// withSearchPath sets the search_path run-time parameter of a PostgreSQL
// URL, which pgx sends at connection start.
func withSearchPath(database, schema string) string {
	u, err := url.Parse(database)
	if err != nil {
		return database // checked by checkDatabase
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// postmasterOf returns the parent of a PostgreSQL backend, the postmaster,
// or 0 when the backend is not a process here (another machine or
// container).
func postmasterOf(backend int) int {
	p, err := procfs.NewProc(backend)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil || st.Comm != "postgres" {
		return 0
	}
	pm, err := procfs.NewProc(st.PPID)
	if err != nil {
		return 0
	}
	if pst, err := pm.Stat(); err != nil || (pst.Comm != "postgres" && pst.Comm != "postmaster") {
		return 0
	}
	return st.PPID
}

// withChildren returns pid and its children's PIDs (a postmaster's
// backends and helpers), or nothing for 0.
func withChildren(pid int) []int {
	if pid == 0 {
		return nil
	}
	out := []int{pid}
	procs, err := procfs.AllProcs()
	if err != nil {
		return out
	}
	for _, p := range procs {
		if st, err := p.Stat(); err == nil && st.PPID == pid {
			out = append(out, p.PID)
		}
	}
	return out
}

// pgCeiling is the ceiling child's PostgreSQL commit: one row inserted,
// autocommitted, per request.
type pgCeiling struct {
	db *sql.DB
	n  atomic.Int64
}

func openPGCeiling(database string) (*pgCeiling, error) {
	cfg, err := pgx.ParseConfig(database)
	if err != nil {
		return nil, errors.New("ceiling: unusable PostgreSQL URL")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgCeilingConns)
	db.SetMaxIdleConns(pgCeilingConns)
	return &pgCeiling{db: db}, nil
}

func (c *pgCeiling) commit(ctx context.Context) error {
	_, err := c.db.ExecContext(ctx, "INSERT INTO commits (n) VALUES ($1)", c.n.Add(1))
	return err
}

// label is how the report names the server: version and what bounds a
// commit.
func (f *pgFacts) label() string {
	return fmt.Sprintf("PostgreSQL %s; fsync %s, synchronous_commit %s, full_page_writes %s, wal_sync_method %s",
		f.Version, f.Fsync, f.SynchronousCommit, f.FullPageWrites, f.WalSyncMethod)
}

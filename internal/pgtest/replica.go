package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pair is a primary cluster and a standby that streams its WAL, as a
// provider runs PostgreSQL for failover. Both listen on 127.0.0.1, each on
// a free port of its own.
//
// The primary is a cluster as New makes it, with a replication entry in
// pg_hba.conf (trust from 127.0.0.1, like the rest) and the WAL level and
// senders of PostgreSQL 15's defaults (wal_level=replica,
// max_wal_senders=10). The standby is a copy made by pg_basebackup -R
// (standby.signal and primary_conninfo), a hot standby that answers reads.
//
// With synchronous replication the primary names any standby in
// synchronous_standby_names and its role postgres commits with
// synchronous_commit=on (New's command line turns it off, and a role
// setting overrides the command line): a commit is acknowledged only once
// the standby has flushed its WAL, so a failover loses no acknowledged
// commit. The setting is made after the base backup, so the promoted
// standby does not wait for a standby of its own.
type Pair struct {
	Primary, Standby *Cluster
}

// StartPair starts a primary and its standby for t and stops both when t
// ends. Without PostgreSQL the test is skipped (failed under CI=true).
func StartPair(t testing.TB, synchronous bool) *Pair {
	t.Helper()
	if err := availableReplica(); err != nil {
		missing(t, err)
	}
	p, err := NewPair(synchronous)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

func availableReplica() error {
	if err := Available(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(BinDir, "pg_basebackup")); err != nil {
		return fmt.Errorf("pg_basebackup: %w (Debian package postgresql)", err)
	}
	return nil
}

// NewPair starts a primary and a standby replicating it (synchronously if
// asked) and returns them once the standby streams; the caller stops them.
func NewPair(synchronous bool) (p *Pair, err error) {
	if err := availableReplica(); err != nil {
		return nil, err
	}
	primary, err := New()
	if err != nil {
		return nil, err
	}
	p = &Pair{Primary: primary}
	defer func() {
		if err != nil {
			p.Stop()
			p = nil
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := filepath.Join(primary.Dir, "data")
	hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return p, err
	}
	_, err = hba.WriteString("host replication all 127.0.0.1/32 trust\n")
	if err := errors.Join(err, hba.Close()); err != nil {
		return p, err
	}
	if err := p.Primary.exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return p, err
	}
	if synchronous {
		if err := p.Primary.exec(ctx, "ALTER ROLE postgres SET synchronous_commit = on"); err != nil {
			return p, err
		}
	}
	if p.Standby, err = newStandby(ctx, primary.Port); err != nil {
		return p, err
	}
	if !synchronous {
		return p, p.waitStreaming(ctx, "async")
	}
	if err := p.Primary.exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = '*'"); err != nil {
		return p, err
	}
	if err := p.Primary.exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return p, err
	}
	if err := p.waitStreaming(ctx, "sync"); err != nil {
		return p, err
	}
	// The role setting reaches new sessions only: check one.
	conn, err := pgx.Connect(ctx, p.Primary.URL("postgres"))
	if err != nil {
		return p, err
	}
	defer conn.Close(ctx)
	var sc string
	if err := conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
		return p, err
	}
	if sc != "on" {
		return p, fmt.Errorf("synchronous_commit is %q on the primary, want on", sc)
	}
	return p, nil
}

// newStandby copies the primary listening on port with pg_basebackup -R
// and starts the copy as a hot standby on a port of its own.
func newStandby(ctx context.Context, port int) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "pgtest-standby-")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// pg_hba.conf's replication entry counts from the primary's reload,
	// which the postmaster makes a moment after being asked: try again.
	var out []byte
	for attempt := 0; attempt < 20; attempt++ {
		if attempt > 0 {
			os.RemoveAll(data)
			time.Sleep(50 * time.Millisecond)
		}
		bb := exec.CommandContext(ctx, filepath.Join(BinDir, "pg_basebackup"), "-h", "127.0.0.1",
			"-p", fmt.Sprint(port), "-U", "postgres", "-D", data, "-R", "-X", "stream",
			"--checkpoint=fast", "--no-sync", "--no-password")
		bb.Dir = dir
		bb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		out, err = bb.CombinedOutput()
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, strings.TrimSpace(string(out)))
	}
	var last error
	for range 3 {
		c, err := start(dir, data, cred, false)
		if err == nil {
			return c, nil
		}
		last = err
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("standby: %w", last)
}

// waitStreaming waits until the primary sees a standby streaming in mode
// (sync or async).
func (p *Pair) waitStreaming(ctx context.Context, mode string) error {
	conn, err := pgx.Connect(ctx, p.Primary.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication
			WHERE state = 'streaming' AND sync_state = $1`, mode).Scan(&n)
		if err != nil {
			return fmt.Errorf("waiting for the standby: %w", err)
		}
		if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no %s standby streaming: %w", mode, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is the connection URL of database db listing the primary's and the
// standby's addresses, with target_session_attrs=read-write: a connection
// goes to whichever of them accepts writes (libpq's form, which pgx
// follows). connect_timeout bounds each address's attempt.
func (p *Pair) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		p.Primary.Port, p.Standby.Port, db)
}

// WaitReplayed waits until the standby has replayed everything the primary
// has written so far, so that reads on the standby see it. (A synchronous
// commit waits for the standby to flush its WAL, not to replay it.)
func (p *Pair) WaitReplayed(ctx context.Context) error {
	pc, err := pgx.Connect(ctx, p.Primary.URL("postgres"))
	if err != nil {
		return err
	}
	defer pc.Close(ctx)
	var lsn string
	if err := pc.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return err
	}
	sc, err := pgx.Connect(ctx, p.Standby.URL("postgres"))
	if err != nil {
		return err
	}
	defer sc.Close(ctx)
	for {
		var done bool
		if err := sc.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the standby has not replayed %s: %w", lsn, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop stops both clusters by their PIDs and removes their directories.
func (p *Pair) Stop() {
	if p.Standby != nil {
		p.Standby.Stop()
	}
	p.Primary.Stop()
}

// Kill ends the cluster at once, as a crash would: SIGKILL to the
// postmaster and to each of its processes, by PID, so none of them closes
// anything cleanly (the kernel still closes their sockets). It returns once
// the postmaster is gone. Stop still removes the directory.
func (c *Cluster) Kill() error {
	if err := c.signalAll(syscall.SIGKILL); err != nil && c.Running() {
		return err
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the postmaster did not exit after SIGKILL")
	}
}

// Promote makes a standby a primary (pg_promote) and returns once it
// accepts writes.
func (c *Cluster) Promote(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 30)").Scan(&ok); err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	if !ok {
		return errors.New("promote: not promoted within 30 s")
	}
	return nil
}

// exec runs one statement as the superuser on database postgres.
func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

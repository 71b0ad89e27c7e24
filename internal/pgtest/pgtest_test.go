package pgtest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStart starts a cluster, creates a database, writes and reads it with
// pgx, and stops the cluster: the postmaster is gone, its port closed and
// its directory removed.
func TestStart(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	if c.Port == 5432 {
		t.Errorf("cluster on 5432, Debian's default port")
	}
	url, err := c.CreateDatabase(ctx, "pgtest_start")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", "hello"); err != nil {
		t.Fatal(err)
	}
	var v, addr string
	if err := conn.QueryRow(ctx, "SELECT v, host(inet_server_addr()) FROM t").Scan(&v, &addr); err != nil {
		t.Fatal(err)
	}
	if v != "hello" || addr != "127.0.0.1" {
		t.Errorf("read %q from %s, want \"hello\" from 127.0.0.1", v, addr)
	}
	conn.Close(ctx)

	c.Stop()
	if c.Running() {
		t.Fatalf("postmaster still running after Stop")
	}
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.Port)); err == nil {
		conn.Close()
		t.Errorf("port %d still answers after Stop", c.Port)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s still there after Stop (%v)", c.Dir, err)
	}
}

// TestLoopbackOnly: the cluster trusts 127.0.0.1 only; a connection from
// another loopback address is refused by pg_hba.conf.
func TestLoopbackOnly(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	// Connect to 127.0.0.1 from 127.0.0.2: the server sees another client
	// address, which no pg_hba.conf line allows.
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	cfg.DialFunc = d.DialContext
	if conn, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		conn.Close(ctx)
		t.Errorf("connection from 127.0.0.2 accepted; want refused (trust for 127.0.0.1 only)")
	}
}

// TestNewWithDurable: NewWith makes the cluster's directory in Parent and,
// with Durable, keeps fsync and synchronous_commit on; New turns them off.
func TestNewWithDurable(t *testing.T) {
	if err := Available(); err != nil {
		missing(t, err)
	}
	parent, err := os.MkdirTemp("", "pgtest-parent-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	// The postgres user must traverse it when run as root.
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := NewWith(Options{Parent: parent, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if filepath.Dir(c.Dir) != parent {
		t.Errorf("cluster directory %s, want one in %s", c.Dir, parent)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != "on" {
			t.Errorf("%s = %s in a durable cluster, want on", name, v)
		}
	}
	if c.PID() <= 0 || !c.Running() {
		t.Errorf("PID %d, running %v", c.PID(), c.Running())
	}
}

package pgtest

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPair: a synchronous standby has every committed row of the primary;
// it refuses writes until promoted; after the primary is killed and the
// standby promoted, the pair's URL reaches the new primary; Stop ends both
// and removes their directories.
func TestPair(t *testing.T) {
	p := StartPair(t, true)
	ctx := context.Background()
	if p.Primary.Port == p.Standby.Port {
		t.Fatalf("primary and standby share port %d", p.Primary.Port)
	}
	url, err := p.Primary.CreateDatabase(ctx, "pgtest_pair")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v int)"); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES ($1)", i); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	if err := p.WaitReplayed(ctx); err != nil {
		t.Fatal(err)
	}

	standby, err := pgx.Connect(ctx, p.Standby.URL("pgtest_pair"))
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close(ctx)
	var pe *pgconn.PgError
	if _, err := standby.Exec(ctx, "INSERT INTO t VALUES (99)"); !errors.As(err, &pe) || pe.Code != "25006" {
		t.Errorf("write on the standby: %v, want read_only_sql_transaction (25006)", err)
	}

	if err := p.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if p.Primary.Running() {
		t.Fatal("primary running after Kill")
	}
	// Synchronous: the 20 acknowledged rows are on the standby, which
	// still serves reads without its primary.
	var n int
	if err := standby.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 20 {
		t.Fatalf("standby after the primary's death: %d rows (%v), want 20", n, err)
	}
	if err := p.Standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	pc, err := pgx.Connect(ctx, p.URL("pgtest_pair"))
	if err != nil {
		t.Fatalf("the pair's URL after promotion: %v", err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "INSERT INTO t VALUES (20)"); err != nil {
		t.Fatalf("write on the promoted standby: %v", err)
	}
	if pc.PgConn().Conn().RemoteAddr().String() != "127.0.0.1:"+strconv.Itoa(p.Standby.Port) {
		t.Errorf("the pair's URL reached %v, want the promoted standby on port %d", pc.PgConn().Conn().RemoteAddr(), p.Standby.Port)
	}
	pc.Close(ctx)
	standby.Close(ctx)

	p.Stop()
	for _, c := range []*Cluster{p.Primary, p.Standby} {
		if c.Running() {
			t.Errorf("postmaster on port %d still running after Stop", c.Port)
		}
		if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.Port)); err == nil {
			conn.Close()
			t.Errorf("port %d still answers after Stop", c.Port)
		}
		if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
			t.Errorf("directory %s still there after Stop (%v)", c.Dir, err)
		}
	}
}

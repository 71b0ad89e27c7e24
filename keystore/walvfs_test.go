package keystore

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestWalbufOneWritePerCommit checks that the store's commits go through
// walbuf: each commit reaches the WAL file as about one write per sync,
// where SQLite alone makes two per page.
func TestWalbufOneWritePerCommit(t *testing.T) {
	s, c, _ := openTest(t)
	newInvite(t, s, c, InviteParams{}) // the first commit also writes the WAL header
	w0, s0 := walbufCounts()
	const n = 20
	for range n {
		newInvite(t, s, c, InviteParams{})
	}
	w1, s1 := walbufCounts()
	writes, syncs := w1-w0, s1-s0
	if syncs < n {
		t.Fatalf("%d commits synced the WAL through walbuf %d times, want at least %d", n, syncs, n)
	}
	// An invite's commit changes several pages (table, indexes): without
	// coalescing that is at least 6 writes per commit.
	if writes > syncs+2 {
		t.Fatalf("%d WAL writes for %d syncs: writes are not coalesced", writes, syncs)
	}
}

// TestWalbufNotUsedWithoutSyncOnCommit checks that a store under
// synchronous=NORMAL, where a commit does not sync the WAL, leaves the WAL
// writes to SQLite.
func TestWalbufNotUsedWithoutSyncOnCommit(t *testing.T) {
	c := newClock()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "n.db"), Options{Now: c.Now, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w0, s0 := walbufCounts()
	for range 5 {
		newInvite(t, s, c, InviteParams{})
	}
	if w1, s1 := walbufCounts(); w1 != w0 || s1 != s0 {
		t.Fatalf("walbuf counted %d writes and %d syncs for a NORMAL store", w1-w0, s1-s0)
	}
}

// openWalbuf opens a raw connection pool on walbuf with the given
// synchronous mode, and one on SQLite's default VFS, to the same file.
func openWalbuf(t *testing.T, sync string) (wb, plain *sql.DB) {
	t.Helper()
	if err := registerWalbuf(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.db")
	dsn := "file:" + escapePath(path) + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=" + sync
	wb, err := sql.Open("sqlite3", dsn+"&vfs="+walbufVFS)
	if err != nil {
		t.Fatal(err)
	}
	wb.SetMaxOpenConns(1)
	t.Cleanup(func() { wb.Close() })
	plain, err = sql.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	if _, err := wb.Exec(`CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return wb, plain
}

func randomBlob(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q, %v", res, err)
	}
}

// TestWalbufCommitsVisibleToOtherConnections checks, in every synchronous
// mode, that a commit made through walbuf is at once visible, byte for
// byte, to a connection that reads the WAL file through SQLite's own VFS:
// with OFF and NORMAL no sync empties the buffer, only the flush when SQLite
// publishes the commit does.
func TestWalbufCommitsVisibleToOtherConnections(t *testing.T) {
	for _, mode := range []string{"OFF", "NORMAL", "FULL", "EXTRA"} {
		t.Run(mode, func(t *testing.T) {
			wb, plain := openWalbuf(t, mode)
			for i := range 50 {
				want := randomBlob(t, 100+i*997) // from one page to a dozen
				if _, err := wb.Exec(`INSERT INTO blobs (id, b) VALUES (?, ?)`, i, want); err != nil {
					t.Fatal(err)
				}
				var got []byte
				if err := plain.QueryRow(`SELECT b FROM blobs WHERE id = ?`, i).Scan(&got); err != nil {
					t.Fatalf("row %d, read through the default VFS: %v", i, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("row %d: read %d bytes that differ from the %d written", i, len(got), len(want))
				}
			}
			checkIntegrity(t, plain)
		})
	}
}

// TestWalbufLargeAndSpillingTransactions drives the paths a group commit of
// invites never takes: a transaction larger than the buffer and than one
// write of the default VFS (128 KiB), a page cache so small that SQLite
// writes pages to the WAL before the commit and reads them back, and a
// rollback after such a spill.
func TestWalbufLargeAndSpillingTransactions(t *testing.T) {
	wb, plain := openWalbuf(t, "FULL")
	ctx := context.Background()
	conn, err := wb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = 4`); err != nil {
		t.Fatal(err)
	}
	want := map[int][]byte{}
	insert := func(tx *sql.Tx, id, n int) {
		b := randomBlob(t, n)
		if _, err := tx.Exec(`INSERT OR REPLACE INTO blobs (id, b) VALUES (?, ?)`, id, b); err != nil {
			t.Fatal(err)
		}
		want[id] = b
	}
	// 3 MiB in one transaction, in rows that span many pages.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 24 {
		insert(tx, i, 128<<10+i)
	}
	// Read back inside the transaction: pages come from the WAL.
	for i := range 24 {
		var got []byte
		if err := tx.QueryRow(`SELECT b FROM blobs WHERE id = ?`, i).Scan(&got); err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("row %d inside the transaction: %v, equal %v", i, err, bytes.Equal(got, want[i]))
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A spilled transaction rolled back, then a smaller one committed over
	// the same part of the WAL.
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	saved := map[int][]byte{}
	for k, v := range want {
		saved[k] = v
	}
	for i := range 8 {
		insert(tx, i, 200<<10)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	want = saved
	tx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insert(tx, 3, 5000)
	insert(tx, 100, 70000)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		var got []byte
		if err := plain.QueryRow(`SELECT b FROM blobs WHERE id = ?`, id).Scan(&got); err != nil {
			t.Fatalf("row %d: %v", id, err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("row %d: %d bytes read differ from the %d written", id, len(got), len(w))
		}
	}
	var n int
	if err := plain.QueryRow(`SELECT count(*) FROM blobs`).Scan(&n); err != nil || n != len(want) {
		t.Fatalf("count %d, %v; want %d", n, err, len(want))
	}
	checkIntegrity(t, plain)
	// A checkpoint copies the WAL into the database; the copy is intact.
	if _, err := plain.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	conn.Close() // wb's only connection
	checkIntegrity(t, wb)
}

package keystore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawDB makes a database file with statements, outside the store.
func rawDB(t *testing.T, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return path
}

func pragma(t *testing.T, path, name string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewDatabaseIdentity(t *testing.T) {
	_, _, path := openTest(t)
	if app, v := pragma(t, path, "application_id"), pragma(t, path, "user_version"); app != applicationID || v != SchemaVersion() {
		t.Fatalf("new database: application_id %#x user_version %d, want %#x %d", app, v, applicationID, SchemaVersion())
	}
	if SchemaVersion() < baseVersion {
		t.Fatalf("SchemaVersion %d below the 1.0 schema %d", SchemaVersion(), baseVersion)
	}
}

func TestOtherDatabasesRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		stmts []string
		want  error
	}{
		{"pre-1.0 development schema", []string{"CREATE TABLE keys (id TEXT)", "PRAGMA user_version = 3"}, ErrPreRelease},
		{"another program's database", []string{"CREATE TABLE notes (x)"}, ErrNotOurs},
		{"another application_id", []string{"CREATE TABLE t (x)", "PRAGMA application_id = 4660", "PRAGMA user_version = 100"}, ErrNotOurs},
		{"newer schema", []string{"CREATE TABLE t (x)", "PRAGMA application_id = 2020175478", "PRAGMA user_version = 9999"}, ErrTooNew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := rawDB(t, tc.stmts...)
			before, _ := os.ReadFile(path)
			for _, mig := range []bool{false, true} {
				if _, err := Open(ctx, path, Options{Migrate: mig}); !errors.Is(err, tc.want) {
					t.Fatalf("Open(Migrate: %v) = %v, want %v", mig, err, tc.want)
				}
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("the refused file was changed")
			}
		})
	}
}

// TestMigrationMechanism upgrades a 1.0 database through a synthetic next
// schema version: refused without Migrate, copied first, then upgraded in
// one transaction with every invite kept.
func TestMigrationMechanism(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	var tokens []string
	for range 5 {
		_, tok := newInvite(t, s, c, InviteParams{})
		tokens = append(tokens, tok)
	}
	s.Close()
	old := SchemaVersion()
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = append(append([]migration(nil), saved...), migration{version: old + 1,
		sql: `ALTER TABLE invites ADD COLUMN next_test INTEGER NOT NULL DEFAULT 7`})

	if _, err := Open(ctx, path, Options{}); !errors.Is(err, ErrNeedsMigrate) {
		t.Fatalf("Open of an older schema without Migrate: %v, want ErrNeedsMigrate", err)
	}
	var calls int
	var backup string
	s2, err := Open(ctx, path, Options{Now: c.Now, Migrate: true, Upgrading: func(from, to int, b string) {
		calls++
		backup = b
		if from != old || to != old+1 {
			t.Errorf("Upgrading(%d, %d), want (%d, %d)", from, to, old, old+1)
		}
	}})
	if err != nil {
		t.Fatalf("Open with Migrate: %v", err)
	}
	defer s2.Close()
	if calls != 1 || pragma(t, backup, "user_version") != old || !strings.HasPrefix(backup, path+".schema") {
		t.Fatalf("backup %q (called %d times): want one copy at schema %d beside the database", backup, calls, old)
	}
	if v, err := s2.Schema(ctx); err != nil || v != old+1 {
		t.Fatalf("Schema after migration = %d, %v; want %d", v, err, old+1)
	}
	for _, tok := range tokens {
		if _, err := s2.InviteByToken(ctx, tok); err != nil {
			t.Fatalf("invite lost in the migration: %v", err)
		}
	}
	var next int
	s2.r.QueryRow("SELECT next_test FROM invites LIMIT 1").Scan(&next)
	if next != 7 {
		t.Fatalf("the migration's column reads %d, want 7", next)
	}
	// Back to the binary that knows only the older schema: refused.
	migrations = saved
	if _, err := Open(ctx, path, Options{Migrate: true}); !errors.Is(err, ErrTooNew) {
		t.Fatalf("older binary on the newer schema: %v, want ErrTooNew", err)
	}
}

func TestInstanceLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	if err := LockHeld(path); err != nil {
		t.Fatalf("LockHeld before anyone locked: %v", err)
	}
	l, err := TakeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	var le *LockedError
	if _, err := TakeLock(path); !errors.As(err, &le) || le.PID != os.Getpid() || !errors.Is(err, ErrLocked) {
		t.Fatalf("second TakeLock = %v, want a LockedError naming pid %d", err, os.Getpid())
	}
	if err := LockHeld(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("LockHeld while held = %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := LockHeld(path); err != nil {
		t.Fatalf("LockHeld after release = %v", err)
	}
}

// TestInviteIDFromToken checks the ID of new invites: derived from the token
// hash, 8 characters, never starting with '-', and a lookup by token needs
// the whole token to match, not only the 48 bits that make the ID.
func TestInviteIDFromToken(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	// A new database is created, not upgraded: nothing to announce, then
	// or when it is opened again.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	for _, p := range []string{fresh, fresh, path} {
		s2, err := Open(ctx, p, Options{Migrate: true, Upgrading: func(from, to int, _ string) { t.Errorf("Upgrading(%d, %d) on a current database", from, to) }})
		if err != nil {
			t.Fatal(err)
		}
		s2.Close()
	}
	for range 200 {
		inv, tok := newInvite(t, s, c, InviteParams{})
		if len(inv.ID) != InviteIDLen || strings.HasPrefix(inv.ID, "-") || strings.HasPrefix(tok, "-") {
			t.Fatalf("ID %q, token %q: want 8 characters, neither starting with '-'", inv.ID, tok)
		}
		if inv.ID != inviteID(hash(tok)) {
			t.Fatalf("ID %q is not derived from the token", inv.ID)
		}
	}
	inv, _ := newInvite(t, s, c, InviteParams{})
	// A row whose ID matches a token's derived ID but whose hash differs
	// (what a 48-bit clash would look like) must not be found by that token.
	other := "ClashingTokenxxxxxxxxxxx"
	if _, err := s.w.Exec(`UPDATE invites SET id = ? WHERE id = ?`, inviteID(hash(other)), inv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteByToken(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token with a clashing ID: %v, want ErrNotFound", err)
	}
	if _, err := s.ReserveUse(ctx, other, testHold("x@example.test")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReserveUse with a clashing ID: %v, want ErrNotFound", err)
	}
}

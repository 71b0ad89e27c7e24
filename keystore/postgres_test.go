package keystore

import (
	"context"
	"database/sql"
	"errors"
	_ "github.com/jackc/pgx/v5/stdlib"
	"strings"
	"testing"

	"xmpp-invites/internal/pgtest"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"xmpp-invites.db": "xmpp-invites.db",
		"postgres://invites:s3cret@db.example:5432/invites?sslmode=require":    "postgres://invites:xxxxx@db.example:5432/invites?sslmode=require",
		"postgresql://invites@db.example/invites":                              "postgresql://invites@db.example/invites",
		"postgres://db.example/invites?user=invites&password=s3cret":           "postgres://db.example/invites?password=xxxxx&user=invites",
		"postgres://invites:s3cret@[bad":                                       "postgres://(unparsable URL)",
		"postgres://invites:s3cret@db.example:5432/invites?sslmode=require#x?": "postgres://invites:xxxxx@db.example:5432/invites?sslmode=require#x?",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenPostgresHidesPassword: a database that cannot be reached, or a
// URL that cannot be parsed, fails Open without the password in the error.
func TestOpenPostgresHidesPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://invites:s3cret-pw@127.0.0.1:1/invites?connect_timeout=2",
		"postgres://127.0.0.1:1/invites?user=invites&password=s3cret-pw&connect_timeout=2",
		"postgres://invites:s3cret-pw@[bad",
		"postgres://invites:s3cret-pw@127.0.0.1:1/invites?sslmode=bogus",
	} {
		s, err := Open(context.Background(), url, Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded", Redact(url))
			continue
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("Open's error shows the password: %v", err)
		}
	}
}

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                              `SELECT 1`,
		`SELECT a FROM t WHERE b = ? AND c = ?`: `SELECT a FROM t WHERE b = $1 AND c = $2`,
		`SELECT ?2, ?1, ?2`:                     `SELECT $2, $1, $2`,
		`SELECT ?3, ?`:                          `SELECT $3, $4`,
		`SELECT '?', "a?b", ? -- why?` + "\n" + `, ?`:   `SELECT '?', "a?b", $1 -- why?` + "\n" + `, $2`,
		`SELECT 'it''s ?', ?`:                           `SELECT 'it''s ?', $1`,
		`UPDATE x SET a = ?10 WHERE b = ?9 AND c = ?10`: `UPDATE x SET a = $10 WHERE b = $9 AND c = $10`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostgresSchema: a new database gets the current schema and its
// identity; a database of another program, or a newer schema, is refused
// and left as it was.
func TestPostgresSchema(t *testing.T) {
	cl := pgtest.Shared(t)
	ctx := context.Background()
	url := cl.NewDatabase(t)
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var app, version int
	if err := s.r.QueryRowContext(ctx, `SELECT application_id, version FROM xmpp_invites_schema`).Scan(&app, &version); err != nil {
		t.Fatal(err)
	}
	if app != applicationID || version != SchemaVersion() {
		t.Errorf("new database: application_id %#x, version %d; want %#x, %d", app, version, applicationID, SchemaVersion())
	}
	if v, err := s.Schema(ctx); err != nil || v != SchemaVersion() {
		t.Errorf("Schema() = %d, %v; want %d", v, err, SchemaVersion())
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE xmpp_invites_schema SET version = ?`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, url, Options{Migrate: true}); !errors.Is(err, ErrTooNew) {
		t.Errorf("newer schema: Open = %v, want ErrTooNew", err)
	}

	other := cl.NewDatabase(t)
	db, err := sql.Open("pgx", other)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE theirs (x int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, other, Options{Migrate: true}); !errors.Is(err, ErrNotOurs) {
		t.Errorf("another program's database: Open = %v, want ErrNotOurs", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("another program's database has %d tables after Open (%v), want its 1", n, err)
	}
}

// TestPostgresMigrate: a database of the 1.0 schema is refused without
// Migrate, and upgraded with it in one go, keeping its data (schema 101
// records the accounts its used invites made).
func TestPostgresMigrate(t *testing.T) {
	cl := pgtest.Shared(t)
	ctx := context.Background()
	url := cl.NewDatabase(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		schemaSQL("postgres", baseVersion),
		`INSERT INTO xmpp_invites_schema (application_id, version) VALUES (x'78696e76'::int, 100)`,
		`INSERT INTO invites (seq, id, token_hash, type, creator, created_at, expires_at, max_uses, uses)
			VALUES (1, 'AAAAAAAA', '\x00', 'account', 'cli', 10, 100, 2, 2)`,
		`INSERT INTO uses (invite_seq, jid, reserved_at, used_at) VALUES (1, 'a@x', 11, 11), (1, 'b@x', 12, 12)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := Open(ctx, url, Options{}); !errors.Is(err, ErrNeedsMigrate) {
		t.Fatalf("1.0 schema without Migrate: Open = %v, want ErrNeedsMigrate", err)
	}
	var from, to int
	if _, err := Open(ctx, url, Options{Migrate: true}); !errors.Is(err, ErrDomainNeeded) {
		t.Fatalf("1.0 schema with records, without the domain: Open = %v, want ErrDomainNeeded", err)
	}
	s, err := Open(ctx, url, Options{Migrate: true, Domain: "x", Upgrading: func(f, tt int, _ string) { from, to = f, tt }})
	if err != nil {
		t.Fatalf("Open with Migrate: %v", err)
	}
	defer s.Close()
	s = s.ForDomain("x")
	if from != baseVersion || to != SchemaVersion() {
		t.Errorf("Upgrading(%d, %d), want (%d, %d)", from, to, baseVersion, SchemaVersion())
	}
	if v, err := s.Schema(ctx); err != nil || v != SchemaVersion() {
		t.Errorf("after migrate: schema %d (%v), want %d", v, err, SchemaVersion())
	}
	accts, err := s.Accounts(ctx, AccountOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range accts {
		got = append(got, a.JID)
	}
	if strings.Join(got, " ") != "b@x a@x" {
		t.Errorf("accounts after migrate: %q, want \"b@x a@x\" (newest first)", got)
	}
}

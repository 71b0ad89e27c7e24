package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"xmpp-invites/internal/pgtest"
	"xmpp-invites/keystore"
)

// pgSecret returns a password unlikely to appear anywhere by chance.
func pgSecret(t *testing.T) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "pw-" + hex.EncodeToString(b)
}

// withPassword returns the URL u with password pw in its user info.
func withPassword(t *testing.T, u, pw string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.UserPassword(p.User.Username(), pw)
	return p.String()
}

// pgSchema reads the schema version of the database at u.
func pgSchema(t *testing.T, u string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, `SELECT version FROM xmpp_invites_schema`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// pgCLIEnv is a CLI environment on database u, with extra TOML.
func pgCLIEnv(t *testing.T, u, extra string) *cliEnv {
	cfg := writeFile(t, "c.toml", fmt.Sprintf("domain = \"example.com\"\npublic_url = \"https://chat.example.com/join\"\ndatabase = %q\n%s\n", u, extra))
	return &cliEnv{t: t, config: cfg, env: map[string]string{}}
}

// TestPostgresCommands: the CLI on a postgres:// database, with its password
// in the URL, in database_password_file or in PGPASSFILE; the password is
// in no output. serve leaves an older schema alone (naming migrate), and
// migrate upgrades it in one go, telling to pg_dump first.
func TestPostgresCommands(t *testing.T) {
	cl := pgtest.Shared(t)
	pw := pgSecret(t)
	bare := cl.NewPasswordDatabase(t, pw)
	var seen strings.Builder
	run := func(e *cliEnv, args ...string) (string, int) {
		t.Helper()
		out, errs, code := e.run(args...)
		seen.WriteString(out + errs)
		return out + errs, code
	}

	// Password in database_password_file.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := pgCLIEnv(t, bare, fmt.Sprintf("database_password_file = %q", pwFile))
	if out, code := run(e, "check"); code != 0 || !strings.Contains(out, "database: ok (postgres://pgtest_password@127.0.0.1:") {
		t.Fatalf("check with database_password_file: exit %d: %s", code, out)
	}
	if out, code := run(e, "key", "create", "example.com", "pg"); code != 0 {
		t.Fatalf("key create: exit %d: %s", code, out)
	}
	if out, code := run(e, "migrate"); code != 0 || !strings.Contains(out, "already: nothing to do") {
		t.Errorf("migrate at the current schema: exit %d: %s", code, out)
	}

	// Without a password the server refuses; with it in the URL it works.
	if out, code := run(pgCLIEnv(t, bare, ""), "key", "list", "example.com"); code == 0 {
		t.Errorf("no password: key list succeeded: %s", out)
	}
	e = pgCLIEnv(t, withPassword(t, bare, pw), "")
	if out, code := run(e, "key", "list", "example.com"); code != 0 || !strings.Contains(out, "pg") {
		t.Errorf("password in the URL: key list: exit %d: %s", code, out)
	}
	if out, code := run(e, "check"); code != 0 || !strings.Contains(out, "pgtest_password:xxxxx@") {
		t.Errorf("check with the password in the URL: exit %d: %s", code, out)
	}
	// A password in both places is refused.
	if out, code := run(pgCLIEnv(t, withPassword(t, bare, pw), fmt.Sprintf("database_password_file = %q", pwFile)), "check"); code != 2 || !strings.Contains(out, "database_password_file") {
		t.Errorf("password in the URL and in a file: exit %d: %s", code, out)
	}

	// PGPASSFILE, read by pgx.
	pass := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(pass, []byte(fmt.Sprintf("127.0.0.1:%d:*:%s:%s\n", cl.Port, pgtest.PasswordRole, pw)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSFILE", pass)
	if out, code := run(pgCLIEnv(t, bare, ""), "key", "list", "example.com"); code != 0 || !strings.Contains(out, "pg") {
		t.Errorf("PGPASSFILE: key list: exit %d: %s", code, out)
	}

	// An older schema: serve refuses and leaves it; migrate upgrades.
	old := cl.NewPasswordDatabase(t, pw)
	base, err := os.ReadFile("../../keystore/schema/postgres/100.sql")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(base), `INSERT INTO xmpp_invites_schema (application_id, version) VALUES (x'78696e76'::int, 100)`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	e = pgCLIEnv(t, withPassword(t, old, pw), "")
	if out, code := run(e, "serve"); code != 2 || !strings.Contains(out, "xmpp-invites migrate") {
		t.Errorf("serve on an older schema: exit %d, want 2 naming migrate: %s", code, out)
	}
	if v := pgSchema(t, old); v != 100 {
		t.Errorf("serve changed the schema to %d", v)
	}
	out, code := run(e, "migrate")
	if code != 0 || !strings.Contains(out, "pg_dump") || !strings.Contains(out, fmt.Sprintf("is at schema %d", keystore.SchemaVersion())) {
		t.Errorf("migrate: exit %d: %s", code, out)
	}
	if v := pgSchema(t, old); v != keystore.SchemaVersion() {
		t.Errorf("after migrate: schema %d, want %d", v, keystore.SchemaVersion())
	}
	if strings.Contains(seen.String(), pw) {
		t.Errorf("the password is in the output:\n%s", seen.String())
	}
}

// TestPostgresServe: two serves on one PostgreSQL database (no file lock),
// each reporting the database on its admin /readyz, neither logging the
// password. A third with the component JID of one of them is refused, and
// check does not try a component that a serve holds.
func TestPostgresServe(t *testing.T) {
	cl := pgtest.Shared(t)
	pw := pgSecret(t)
	db := withPassword(t, cl.NewPasswordDatabase(t, pw), pw)
	// A component server that refuses connections: serve keeps trying.
	component := func(n int) string {
		return fmt.Sprintf("[component]\njid = \"invites%d.example.com\"\nserver = \"127.0.0.1:1\"\nsecret = \"s\"\n", n)
	}
	var ins []*instance
	for i := range 2 {
		in := newInstance(t, component(i))
		usePostgres(t, in, db)
		in.start()
		ins = append(ins, in)
	}
	third := newInstance(t, component(1))
	usePostgres(t, third, db)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "--config", third.config, "serve")
	errs, _ := cmd.CombinedOutput() // a serve that runs is killed at the timeout
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(errs), "another serve on this database uses the component invites1.example.com") {
		t.Errorf("a second serve with one component JID: exit %d: %s", code, errs)
	}
	if out, errs, code := ins[0].cli("check"); code != 0 || !strings.Contains(out, "serve: running with this database and the component invites0.example.com") {
		t.Errorf("check beside a running serve: exit %d: %s%s", code, out, errs)
	}
	want := fmt.Sprintf(`"database":"writable","database_engine":"postgresql","database_reachable":true,"database_schema":%d`, keystore.SchemaVersion())
	for i, in := range ins {
		if code, body := httpGet(t, "http://"+in.admin+"/readyz"); code != 200 || !strings.Contains(body, want) {
			t.Errorf("instance %d: admin /readyz: %d %s", i, code, body)
		}
	}
	for i, in := range ins {
		if code := in.stop(); code != 0 {
			t.Errorf("instance %d: exit %d", i, code)
		}
		if strings.Contains(in.stderr.String(), pw) {
			t.Errorf("instance %d logged the password:\n%s", i, in.stderr)
		}
	}
}

// usePostgres points in's config at the PostgreSQL database u.
func usePostgres(t testing.TB, in *instance, u string) {
	t.Helper()
	data, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("database = %q", filepath.Join(in.dir, "invites.db"))
	if !strings.Contains(string(data), old) {
		t.Fatalf("no %s in %s", old, data)
	}
	s := strings.Replace(string(data), old, fmt.Sprintf("database = %q", u), 1)
	if err := os.WriteFile(in.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"xmpp-invites/internal/pgtest"
)

// TestDatabaseFlag: -database takes "pgtest" or a PostgreSQL URL whose
// every host is a loopback address, and refuses anything else with an
// error that names the flag and never shows the password.
func TestDatabaseFlag(t *testing.T) {
	for _, ok := range []string{
		"pgtest",
		"postgres://bench:s3cret@127.0.0.1:5432/bench",
		"postgresql://bench@127.0.0.2/bench?sslmode=disable",
		"postgres://bench@[::1]:5433/bench",
		"postgres://bench@127.0.0.1:5432,127.0.0.1:5433/bench",
	} {
		o, err := parseFlags([]string{"-database", ok}, io.Discard)
		if err != nil || o.database != ok {
			t.Errorf("-database %s: %v (database %q)", ok, err, o.database)
		}
	}
	for in, want := range map[string]string{
		"postgres://bench:s3cret@db.example.net/bench":          `host "db.example.net" is not a loopback address`,
		"postgres://bench:s3cret@localhost/bench":               `host "localhost" is not a loopback address`,
		"postgres://bench:s3cret@192.0.2.1:5432/bench":          `host "192.0.2.1" is not a loopback address`,
		"postgres://bench:s3cret@127.0.0.1,192.0.2.1/bench":     `host "192.0.2.1" is not a loopback address`,
		"postgres://bench:s3cret@/bench?host=/run/postgresql":   `host "/run/postgresql" is not a loopback address`,
		"postgres://bench:s3cret@127.0.0.1/bench?host=10.0.0.1": `host "10.0.0.1" is not a loopback address`,
		"bench.db":                         "want a postgres:// URL",
		"host=127.0.0.1":                   "want a postgres:// URL",
		"postgres://%zz:s3cret@127.0.0.1/": "-database: ",
	} {
		_, err := parseFlags([]string{"-database", in}, io.Discard)
		if err == nil {
			t.Errorf("-database %s accepted", in)
			continue
		}
		if !strings.HasPrefix(err.Error(), "-database: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("-database %s: %q, want it to contain %q", in, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("-database %s: the error shows the password: %q", in, err)
		}
	}
}

// TestRedactArgs: the command line the report and the JSON repeat hides a
// PostgreSQL URL's password, in both flag forms.
func TestRedactArgs(t *testing.T) {
	got := strings.Join(redactArgs([]string{"-database", "postgres://b:s3cret@127.0.0.1/x",
		"-database=postgres://b:s3cret@127.0.0.1/x?password=s3cret", "-rounds", "2"}), " ")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "-database postgres://b:xxxxx@127.0.0.1/x") ||
		!strings.Contains(got, "-database=postgres://b:xxxxx@127.0.0.1/x") || !strings.HasSuffix(got, "-rounds 2") {
		t.Errorf("redactArgs: %s", got)
	}
}

// TestPostgresInfo: with PostgreSQL measured, the targets table gains
// information lines for it, judged against its own commit ceiling and
// SQLite, never PASS or FAIL, and not counted among the targets.
func TestPostgresInfo(t *testing.T) {
	r := &results{Rounds: 2, Settings: settings{Conns: []int{targetConns}}, HTTP: []result{
		m(srvCeiling, testAPI, 1, 20000, 0), m(srvSynced, testAPI, 1, 9000, 0), m(srvPGCommit, testAPI, 1, 4000, 0),
		m(srvXI, testAPI, 1, 5000, 0), m(srvXIPG, testAPI, 1, 1000, 0),
		m(srvCeiling, testAPI, 2, 20000, 0), m(srvSynced, testAPI, 2, 9000, 0), m(srvPGCommit, testAPI, 2, 6000, 0),
		m(srvXI, testAPI, 2, 5000, 0), m(srvXIPG, testAPI, 2, 1500, 0),
	}}
	if c := judge(r, options{invites: 1}); len(c) != 7 {
		t.Errorf("%d lines without PostgreSQL, want the 7 targets", len(c))
	}
	r.Postgres = &pgFacts{Version: "15.14"}
	r.Targets = judge(r, options{invites: 1})
	if len(r.Targets) != 11 {
		t.Fatalf("%d lines with PostgreSQL, want 7 targets and 4 information lines", len(r.Targets))
	}
	vsCommit := targetNamed(t, r, "PostgreSQL: invite creation vs ceiling + PostgreSQL commit")
	if !vsCommit.Info || vsCommit.Pass || vsCommit.verdict() != "INFO" || vsCommit.Value != "25.0 % (1250 vs 5000/s; means of 2 rounds)" {
		t.Errorf("vs PostgreSQL commit: %+v", vsCommit)
	}
	if c := targetNamed(t, r, "PostgreSQL: invite creation vs xmpp-invites on SQLite"); c.Value != "25.0 % (1250 vs 5000/s; means of 2 rounds)" {
		t.Errorf("vs SQLite: %+v", c)
	}
	if c := targetNamed(t, r, "PostgreSQL: landing page"); c.Measured || c.verdict() != "NOT MEASURED" {
		t.Errorf("landing page, not measured: %+v", c)
	}
	var out strings.Builder
	printReport(&out, r)
	got := out.String()
	for _, want := range []string{
		"POSTGRESQL (-database)",
		"xmpp-invites (PostgreSQL) at 16 conns: 5.0 % of ceiling (trivial net/http), 25.0 % of ceiling + PostgreSQL commit, 20.0 % of xmpp-invites (SQLite)",
		"ROUNDS: invite creation on PostgreSQL at 16 conns",
		"INFO", "of 7 targets pass",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestStartPostgres: on a database given by URL, the run makes its two
// fresh schemas (xmpp-invites' empty, the ceiling's with its table), reads
// the server's settings, finds its postmaster, hides the password, and
// drops both schemas when the run stops.
func TestStartPostgres(t *testing.T) {
	c := pgtest.Start(t)
	ctx := context.Background()
	base := c.NewPasswordDatabase(t, "s3cret")
	withPassword := strings.Replace(base, pgtest.PasswordRole+"@", pgtest.PasswordRole+":s3cret@", 1)
	b := &bench{o: options{database: withPassword}, log: io.Discard, res: &results{}}
	pg, err := b.startPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	facts := b.res.Postgres
	if strings.Contains(facts.Database, "s3cret") || !strings.Contains(facts.Database, "xxxxx") {
		t.Errorf("database named %q", facts.Database)
	}
	if !strings.HasPrefix(facts.Version, "15") || facts.Fsync != "off" || pg.postmaster != c.PID() || !facts.CPUCounted {
		t.Errorf("facts %+v, postmaster %d (cluster %d)", facts, pg.postmaster, c.PID())
	}
	conn, err := pgx.Connect(ctx, pg.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	var tables int
	if err := conn.QueryRow(ctx, `SELECT current_schema(), (SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema())`).Scan(&schema, &tables); err != nil {
		t.Fatal(err)
	}
	if schema != facts.Schema || tables != 0 {
		t.Errorf("xmpp-invites' URL reaches schema %q with %d tables, want the empty %q", schema, tables, facts.Schema)
	}
	cconn, err := pgx.Connect(ctx, pg.ceilingURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cconn.Exec(ctx, "INSERT INTO commits (n) VALUES (1)"); err != nil {
		t.Errorf("the ceiling's table: %v", err)
	}
	cconn.Close(ctx)
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'invites_bench_%'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d schemas left after the run", left)
	}
}

package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// cliEnv is a config and database for CLI tests.
type cliEnv struct {
	t      *testing.T
	config string
	env    map[string]string
}

func newCLIEnv(t *testing.T) *cliEnv {
	dir := t.TempDir()
	cfg := writeFile(t, "c.toml", `domain = "example.com"
public_url = "https://chat.example.com/join"
database = "`+filepath.Join(dir, "db.sqlite")+`"
`)
	return &cliEnv{t: t, config: cfg, env: map[string]string{}}
}

// run runs the CLI and returns stdout, stderr and the exit status.
func (e *cliEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"xmpp-invites", "--config", e.config}, args...), &out, &errb, mapEnv(e.env))
	return out.String(), errb.String(), code
}

func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
	}
	return out
}

var credRE = regexp.MustCompile(`^[A-Za-z0-9_-]{12}/[A-Za-z0-9_-]{43}\n$`)

func TestKeyCommands(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok("key", "create", "example.com", "My test key")
	if !credRE.MatchString(out) {
		t.Fatalf("key create printed %q, want ID/SECRET and a newline only", out)
	}
	id := out[:12]
	e.ok("key", "create", "--manage", "--expires", "24h", "--quota", "5", "example.com")
	list := e.ok("key", "list", "example.com")
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 2 || lines[0] != id+"\tMy test key" || !strings.HasSuffix(lines[1], "\t") {
		t.Fatalf("key list = %q", list)
	}
	long := e.ok("key", "list", "--long", "example.com")
	fields := strings.Split(strings.Split(long, "\n")[1], "\t")
	if len(fields) != 6 || fields[2] != "manage" || fields[4] != "-" || !strings.HasSuffix(fields[5], "Z") {
		t.Fatalf("key list --long second line fields = %q", fields)
	}
	labelled := e.ok("key", "create", "--label", "Friends of Example", "example.com", "webhook-prod")[:12]
	st := openStoreForTest(t, e)
	if k, err := st.GetKey(context.Background(), labelled); err != nil || k.Label != "Friends of Example" || k.Name != "webhook-prod" {
		t.Fatalf("key create --label stored %+v, %v", k, err)
	}
	st.Close()
	e.ok("key", "delete", "example.com", id)
	if out := e.ok("key", "list", "example.com"); strings.Contains(out, id) {
		t.Fatalf("deleted key still listed: %q", out)
	}
	if _, errs, code := e.run("key", "delete", "example.com", id); code != 1 || !strings.HasPrefix(errs, "Error: ") {
		t.Fatalf("delete unknown: exit %d stderr %q, want 1 and Error:", code, errs)
	}
}

func TestHostCheckAndUsageErrors(t *testing.T) {
	e := newCLIEnv(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"key", "create", "other.org"}, 1, "Error: please supply a valid host\n"},
		{[]string{"key", "list", "other.org"}, 1, "Error: please supply a valid host\n"},
		{[]string{"invite", "create", "other.org"}, 1, "Error: please supply a valid host\n"},
		{[]string{"key", "create", "example.com", "name", "--manage"}, 2, "looks like a flag"},
		{[]string{"key", "list", "example.com", "--long"}, 2, "looks like a flag"},
		{[]string{"key", "create"}, 2, "wrong number of arguments"},
		{[]string{"key", "create", "--bogus", "example.com"}, 2, "flag provided but not defined"},
		{[]string{"invite", "create", "--ttl", "forever", "example.com"}, 2, "ttl"},
		{[]string{"invite", "create", "--uses", "5000", "example.com"}, 2, "uses"},
		{[]string{"invite", "create", "--type", "party", "example.com"}, 2, "type"},
		{[]string{"invite", "create", "--type", "reset", "example.com"}, 2, "username"},
		{[]string{"invite", "show", "example.com", "nosuchid"}, 1, "Error: no invite"},
		{[]string{"invite", "revoke", "example.com", "nosuchid"}, 1, "Error: no invite"},
		{[]string{"frobnicate"}, 2, ""},
	} {
		_, errs, code := e.run(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d stderr %q; want exit %d containing %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	// A bad config is exit 2 for every command.
	e.config = writeFile(t, "bad.toml", "domain = \"example.com\"\n")
	if _, errs, code := e.run("key", "list", "example.com"); code != 2 || !strings.Contains(errs, "public_url") {
		t.Errorf("bad config: exit %d stderr %q, want 2 naming public_url", code, errs)
	}
}

func TestInviteCommands(t *testing.T) {
	e := newCLIEnv(t)
	url := strings.TrimSpace(e.ok("invite", "create", "--note", "for bob", "example.com"))
	if !regexp.MustCompile(`^https://chat\.example\.com/join/invite\?[A-Za-z0-9_-]{24}$`).MatchString(url) {
		t.Fatalf("invite create printed %q", url)
	}
	token := url[strings.Index(url, "?")+1:]
	e.ok("invite", "create", "--type", "reset", "--username", "Alice", "example.com")
	e.ok("invite", "create", "--type", "contact", "--username", "bob", "--uses", "5", "--ttl", "2h", "example.com")
	list := e.ok("invite", "list", "example.com")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 {
		t.Fatalf("invite list = %q, want 3 lines", list)
	}
	f := strings.Split(lines[0], "\t")
	if len(f) != 7 || f[1] != "account" || f[2] != "-" || f[3] != "0/1" || f[5] != "cli" || f[6] != "for bob" {
		t.Fatalf("first line fields %q", f)
	}
	if f2 := strings.Split(lines[1], "\t"); f2[1] != "reset" || f2[2] != "alice" {
		t.Fatalf("reset invite line %q: want username prepared to alice", f2)
	}
	if strings.Contains(list, token) {
		t.Fatal("invite list shows a token")
	}
	id := f[0]
	show := e.ok("invite", "show", "example.com", token)
	if !strings.Contains(show, id) || !strings.Contains(show, "pending") || strings.Contains(show, token) {
		t.Fatalf("invite show by token = %q", show)
	}
	if out := e.ok("invite", "revoke", "example.com", token); out != "revoked invite "+id+" (account, 0/1 uses)\n" {
		t.Fatalf("invite revoke by token printed %q, want one line naming the ID", out)
	}
	if _, errs, code := e.run("invite", "revoke", "example.com", id); code != 1 || !strings.Contains(errs, "already revoked") {
		t.Fatalf("revoke twice: %d %q", code, errs)
	}
	if l := e.ok("invite", "list", "example.com"); strings.Contains(l, id) {
		t.Fatalf("revoked invite listed as pending: %q", l)
	}
	all := e.ok("invite", "list", "--all", "example.com")
	if !strings.Contains(all, id) || !strings.Contains(all, "\trevoked") {
		t.Fatalf("invite list --all = %q", all)
	}
}

// runTerminal runs the CLI as if stdout were a terminal.
func (e *cliEnv) runTerminal(args ...string) string {
	e.t.Helper()
	var out, errb bytes.Buffer
	a := &appState{stdout: &out, stderr: &errb, env: mapEnv(e.env), terminal: true}
	if code := runApp(context.Background(), a, append([]string{"xmpp-invites", "--config", e.config}, args...)); code != 0 {
		e.t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
	}
	return out.String()
}

func TestListHeaderOnTerminal(t *testing.T) {
	e := newCLIEnv(t)
	id := e.ok("key", "create", "example.com", "web")[:12]
	e.ok("invite", "create", "--note", "n", "example.com")
	for _, c := range []struct {
		args   []string
		header string
	}{
		{[]string{"key", "list", "example.com"}, "ID\tNAME"},
		{[]string{"key", "list", "--long", "example.com"}, "ID\tNAME\tSCOPE\tCREATED\tLAST_USED\tEXPIRES"},
		{[]string{"invite", "list", "example.com"}, "ID\tTYPE\tUSERNAME\tUSES\tEXPIRES\tCREATOR\tNOTE"},
		{[]string{"invite", "list", "--all", "example.com"}, "ID\tTYPE\tUSERNAME\tUSES\tEXPIRES\tCREATOR\tNOTE\tSTATE"},
	} {
		term := strings.Split(e.runTerminal(c.args...), "\n")
		pipe := strings.Split(e.ok(c.args...), "\n")
		if term[0] != c.header || len(term) != len(pipe)+1 || term[1] != pipe[0] {
			t.Errorf("%v: terminal %q, pipe %q: want the header %q first on a terminal only", c.args, term, pipe, c.header)
		}
		if got := len(strings.Split(term[1], "\t")); got != len(strings.Split(c.header, "\t")) {
			t.Errorf("%v: %d columns under a header of %d", c.args, got, len(strings.Split(c.header, "\t")))
		}
	}
	if !strings.HasPrefix(e.runTerminal("key", "list", "example.com"), "ID\tNAME\n"+id+"\tweb\n") {
		t.Error("key list on a terminal does not list the key under its header")
	}
}

func TestListJSON(t *testing.T) {
	e := newCLIEnv(t)
	if out := e.ok("key", "list", "--json", "example.com"); out != "[]\n" {
		t.Fatalf("key list --json with no keys = %q, want []", out)
	}
	id := e.ok("key", "create", "--manage", "--quota", "7", "--label", "Example Chat", "example.com", "web hook")[:12]
	var keys []map[string]any
	if err := json.Unmarshal([]byte(e.runTerminal("key", "list", "--json", "example.com")), &keys); err != nil {
		t.Fatalf("key list --json (terminal) is not JSON alone: %v", err)
	}
	want := map[string]any{"id": id, "name": "web hook", "label": "Example Chat", "scope": "manage", "last_used": nil, "expires": nil, "quota": float64(7)}
	if len(keys) != 1 {
		t.Fatalf("keys = %v", keys)
	}
	for k, v := range want {
		if keys[0][k] != v {
			t.Errorf("key %s = %#v, want %#v", k, keys[0][k], v)
		}
	}
	if _, err := time.Parse(time.RFC3339, keys[0]["created"].(string)); err != nil {
		t.Errorf("created %v: %v", keys[0]["created"], err)
	}

	url := e.ok("invite", "create", "--type", "reset", "--username", "alice", "example.com")
	e.ok("invite", "create", "--uses", "3", "example.com")
	e.ok("invite", "revoke", "example.com", strings.TrimSpace(url[strings.Index(url, "?")+1:]))
	var invs []map[string]any
	if err := json.Unmarshal([]byte(e.ok("invite", "list", "--all", "--json", "example.com")), &invs); err != nil {
		t.Fatalf("invite list --json: %v", err)
	}
	if len(invs) != 2 || invs[0]["type"] != "reset" || invs[0]["username"] != "alice" || invs[0]["state"] != "revoked" ||
		invs[0]["revoked"] == nil || invs[1]["username"] != "" || invs[1]["max_uses"] != float64(3) || invs[1]["revoked"] != nil {
		t.Fatalf("invite list --all --json = %v", invs)
	}
	if err := json.Unmarshal([]byte(e.ok("invite", "list", "--json", "example.com")), &invs); err != nil || len(invs) != 1 {
		t.Fatalf("invite list --json (pending only) = %v, %v", invs, err)
	}
}

func TestKeyDeleteRevokeInvites(t *testing.T) {
	e := newCLIEnv(t)
	cred := strings.TrimSpace(e.ok("key", "create", "example.com"))
	id := cred[:12]
	st := openStoreForTest(t, e)
	createKeyInvites(t, st, "key:"+id, 3)
	st.Close()
	out, errs, code := e.run("key", "delete", "--revoke-invites", "example.com", id)
	if code != 0 || out != "deleted key "+id+" and revoked 3 pending invites\n" || errs != "" {
		t.Fatalf("delete --revoke-invites: %d %q %q", code, out, errs)
	}
	if l := e.ok("invite", "list", "example.com"); l != "" {
		t.Fatalf("pending after revoke: %q", l)
	}
}

func TestVersion(t *testing.T) {
	e := newCLIEnv(t)
	out := e.ok("--version")
	if !strings.Contains(out, version) {
		t.Fatalf("--version = %q", out)
	}
}

func TestLogDurationsAsText(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		a := &appState{stderr: &buf}
		a.logger(Config{LogLevel: "info", LogFormat: format}).Info("x", "took", 1200*time.Millisecond)
		if !strings.Contains(buf.String(), `1.2s`) || strings.Contains(buf.String(), "1200000000") {
			t.Errorf("%s log: %q, want the duration as 1.2s", format, buf.String())
		}
	}
}

// TestCheckAndServeRefuseAlike: check and serve share one validation, so a
// config the parts would refuse is refused by both, with exit 2, before the
// database is opened.
func TestCheckAndServeRefuseAlike(t *testing.T) {
	for _, tc := range []struct{ name, extra, want string }{
		{"cors origin with another scheme", "[http]\ncors_origins = [\"ftp://a.example\"]\n", "cors_origins"},
		{"component JID equal to the domain", "[component]\njid = \"example.com\"\nsecret = \"s3cret\"\n", "must differ from the domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "db.sqlite")
			cfg := writeFile(t, "c.toml", "domain = \"example.com\"\npublic_url = \"https://chat.example.com\"\ndatabase = \""+db+"\"\n"+tc.extra)
			for _, cmd := range []string{"check", "serve"} {
				var out, errb bytes.Buffer
				code := run(context.Background(), []string{"xmpp-invites", "--config", cfg, cmd}, &out, &errb, mapEnv(nil))
				if code != 2 || !strings.Contains(errb.String(), tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want 2 naming %q", cmd, code, errb.String(), tc.want)
				}
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("the database was created (%v) although the config is refused", err)
			}
		})
	}
}

// badTexts are values of one-line fields that must never be stored: escape
// sequences, line breaks, tabs, C1 controls, bidirectional overrides and
// marks.
var badTexts = []string{
	"red\x1b[31malert", "two\nlines", "col\tumn", "cr\rlf", "nul\x00", "del\x7f", "c1\u0085next", "csi\u009b2J",
	"txt\u202eexe.bat", "lri\u2066x\u2069", "lrm\u200e", "rlm\u200f", "alm\u061c", "ls\u2028", "bad\xffutf8",
}

// TestCLIRefusesControlText: key names, labels and notes with control or
// bidirectional formatting characters are usage errors (exit 2) that store
// nothing.
func TestCLIRefusesControlText(t *testing.T) {
	e := newCLIEnv(t)
	for _, bad := range badTexts {
		for _, args := range [][]string{
			{"key", "create", "example.com", bad},
			{"key", "create", "--label", bad, "example.com", "name"},
			{"invite", "create", "--note", bad, "example.com"},
			{"invite", "create", "--type", "contact", "--username", bad, "example.com"},
		} {
			out, errs, code := e.run(args...)
			if code != 2 || out != "" || !strings.Contains(errs, "must") {
				t.Errorf("%q: exit %d stdout %q stderr %q; want exit 2 with a message", args, code, out, errs)
			}
		}
	}
	if out := e.ok("key", "list", "example.com"); out != "" {
		t.Errorf("keys stored: %q", out)
	}
	if out := e.ok("invite", "list", "--all", "example.com"); out != "" {
		t.Errorf("invites stored: %q", out)
	}
}

// TestCLIEscapesStoredText: whatever an older database holds, the CLI
// prints no control or bidirectional formatting character and keeps its
// columns: such values are printed quoted and escaped.
func TestCLIEscapesStoredText(t *testing.T) {
	e := newCLIEnv(t)
	e.ok("key", "create", "example.com", "plain")
	e.ok("invite", "create", "--note", "plain", "example.com")
	const evil = "a\tb\x1b]0;owned\x07\u202egnp.exe\u009b2J\xff"
	cfg, err := loadConfig(e.config, mapEnv(e.env), overrides{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE keys SET name = ?1`,
		`UPDATE invites SET note = ?1, creator = 'xmpp:' || ?1, username = ?1`,
		`INSERT INTO uses (invite_seq, jid, reserved_at, used_at) SELECT seq, ?1, 0, 0 FROM invites`,
	} {
		if _, err := db.Exec(q, evil); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	quoted := strconv.QuoteToGraphic(evil)
	clean := func(name, out string, columns int) {
		t.Helper()
		for _, r := range out {
			if r != '\t' && r != '\n' && (r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f ||
				r >= 0x202a && r <= 0x202e || r == utf8.RuneError) {
				t.Errorf("%s printed U+%04X: %q", name, r, out)
				break
			}
		}
		if !strings.Contains(out, quoted) {
			t.Errorf("%s = %q, want the value as %s", name, out, quoted)
		}
		if columns > 0 {
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if n := strings.Count(line, "\t") + 1; n != columns {
					t.Errorf("%s line %q has %d columns, want %d", name, line, n, columns)
				}
			}
		}
	}
	clean("key list", e.ok("key", "list", "example.com"), 2)
	clean("key list --long", e.ok("key", "list", "--long", "example.com"), 6)
	list := e.ok("invite", "list", "--all", "example.com")
	clean("invite list", list, 8)
	show := e.ok("invite", "show", "example.com", strings.Split(list, "\t")[0])
	clean("invite show", show, 0)
	if n := strings.Count(show, "\n"); n != 12 {
		t.Errorf("invite show has %d lines, want 12: %q", n, show)
	}
}

// TestCLIAudit: what an operator does with the CLI is in the audit log,
// as "cli", next to what admins do in the portal.
func TestCLIAudit(t *testing.T) {
	e := newCLIEnv(t)
	cred := strings.TrimSpace(e.ok("key", "create", "--manage", "example.com", "website"))
	id := cred[:strings.IndexByte(cred, '/')]
	landing := strings.TrimSpace(e.ok("invite", "create", "example.com"))
	token := landing[strings.IndexByte(landing, '?')+1:]
	e.ok("invite", "revoke", "example.com", token)
	e.ok("key", "delete", "example.com", id)
	st := openStoreForTest(t, e)
	defer st.Close()
	log, err := st.AuditLog(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range log {
		if a.Actor != "cli" {
			t.Errorf("actor %q, want cli", a.Actor)
		}
		got = append(got, a.Action+" "+a.Target)
		if strings.Contains(a.Detail+a.Target, token) || strings.Contains(a.Detail, cred) {
			t.Errorf("audit entry %+v holds a secret", a)
		}
	}
	want := []string{"key.delete " + id, "invite.revoke", "invite.create", "key.create " + id}
	if len(got) != 4 {
		t.Fatalf("audit log %q, want 4 entries", got)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("entry %d %q, want %q", i, got[i], w)
		}
	}
}

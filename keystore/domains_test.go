package keystore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Many domains on one store (schema 104): each property is checked both
// ways, a.example against b.example and b.example against a.example.

// domainPairs returns the two views of s, in both orders.
func domainPairs(s *Store) [][2]*Store {
	a, b := s.ForDomain("a.example"), s.ForDomain("b.example")
	return [][2]*Store{{a, b}, {b, a}}
}

func TestDomainKeys(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for _, p := range domainPairs(s) {
		x, y := p[0], p[1]
		k, cred, err := x.CreateKey(ctx, KeyParams{Name: "k of " + x.Domain(), Scope: ScopeManage})
		if err != nil {
			t.Fatal(err)
		}
		if k.Domain != x.Domain() {
			t.Fatalf("key made on %s has domain %q", x.Domain(), k.Domain)
		}
		// Known to its own domain (which also puts it in the shared cache).
		if got, err := x.Authenticate(ctx, cred); err != nil || got.ID != k.ID {
			t.Fatalf("%s: own key: %+v, %v", x.Domain(), got, err)
		}
		if _, cached, err := x.AuthenticateToCreate(ctx, cred); err != nil || !cached {
			t.Fatalf("%s: own key from the cache: cached %v, %v", x.Domain(), cached, err)
		}
		// Another domain's key is a bad key, from the database and from the cache.
		if _, err := y.Authenticate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s accepted a key of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, _, err := y.AuthenticateToCreate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s accepted a cached key of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := y.GetKey(ctx, k.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s.GetKey(key of %s) = %v, want ErrNotFound", y.Domain(), x.Domain(), err)
		}
		if keys, _ := y.ListKeys(ctx); slices.ContainsFunc(keys, func(o Key) bool { return o.ID == k.ID }) {
			t.Errorf("%s lists a key of %s", y.Domain(), x.Domain())
		}
		if keys, _ := x.ListKeys(ctx); len(keys) != 1 || keys[0].ID != k.ID {
			t.Errorf("%s lists %+v, want its one key", x.Domain(), keys)
		}
		// The insert checks the key in the invite's domain.
		if _, _, err := y.CreateInvite(ctx, InviteParams{Type: TypeAccount, Creator: k.Creator(), MaxUses: 1,
			Expires: c.Now().Add(time.Hour)}); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s made an invite with a key of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := y.DeleteKey(ctx, k.ID, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s deleted a key of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := x.Authenticate(ctx, cred); err != nil {
			t.Errorf("%s: own key after the other domain's delete: %v", x.Domain(), err)
		}
	}
}

func TestDomainInvites(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for _, p := range domainPairs(s) {
		x, y := p[0], p[1]
		inv, tok := newInvite(t, x, c, InviteParams{MaxUses: 2, Creator: "xmpp:boss@" + x.Domain()})
		for _, ref := range []string{tok, inv.ID} {
			if _, err := y.GetInvite(ctx, ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s.GetInvite(invite of %s) = %v, want ErrNotFound", y.Domain(), x.Domain(), err)
			}
			if _, err := y.RevokeInvite(ctx, ref); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s revoked an invite of %s: %v", y.Domain(), x.Domain(), err)
			}
		}
		if _, err := y.InviteByToken(ctx, tok); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s.InviteByToken(invite of %s) = %v", y.Domain(), x.Domain(), err)
		}
		if _, err := y.ReserveUse(ctx, tok, testHold("eve@"+y.Domain())); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s reserved a use of an invite of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := y.HeldUses(ctx, tok, ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s.HeldUses(invite of %s) = %v", y.Domain(), x.Domain(), err)
		}
		for _, o := range []ListOptions{{All: true}, {Creator: inv.Creator, All: true}} {
			has := func(l []Invite) bool { return slices.ContainsFunc(l, func(i Invite) bool { return i.ID == inv.ID }) }
			if l, _ := y.ListInvites(ctx, o); has(l) {
				t.Errorf("%s lists an invite of %s", y.Domain(), x.Domain())
			}
			if l, _ := x.ListInvites(ctx, o); !has(l) || slices.ContainsFunc(l, func(i Invite) bool { return i.Creator != inv.Creator }) {
				t.Errorf("%s lists %v, want its own invites only", x.Domain(), ids(l))
			}
		}
		// A use on its own domain: the uses and the account record stay there.
		redeem(t, x, tok, "new@"+x.Domain())
		if u, _ := y.Uses(ctx, inv.ID); len(u) != 0 {
			t.Errorf("%s shows the uses of an invite of %s", y.Domain(), x.Domain())
		}
		if u, _ := x.Uses(ctx, inv.ID); len(u) != 1 {
			t.Errorf("%s: %d uses of its invite, want 1", x.Domain(), len(u))
		}
		if n, _ := y.CountInvites(ctx, inv.Creator, c.Now().Add(-time.Hour)); n != 0 {
			t.Errorf("%s counts %d invites of %s", y.Domain(), n, x.Domain())
		}
	}
}

// TestDomainLimits: a creator's window limit (key quotas, users' daily
// quotas) counts the invites of one domain only.
func TestDomainLimits(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for i, p := range domainPairs(s) {
		x, y := p[0], p[1]
		creator := []string{"cli", "xmpp:same@example"}[i]
		lim := Limit{Max: 1, Since: c.Now().Add(-time.Hour)}
		mk := func(st *Store) error {
			_, _, err := st.CreateInvite(ctx, InviteParams{Type: TypeAccount, Creator: creator, MaxUses: 1,
				Expires: c.Now().Add(time.Hour), Limit: lim})
			return err
		}
		if err := mk(x); err != nil {
			t.Fatal(err)
		}
		if err := mk(y); err != nil {
			t.Errorf("%s: the limit counted an invite of %s: %v", y.Domain(), x.Domain(), err)
		}
		if err := mk(x); !errors.Is(err, ErrLimit) {
			t.Errorf("%s: second invite under a limit of 1 = %v, want ErrLimit", x.Domain(), err)
		}
	}
}

// TestDomainPurgeAndClaims: each domain purges only its own invites (with
// its own retention), and a resolver claims only its own domain's lapsed
// reservations (it asks its own server whether the account exists).
func TestDomainPurgeAndClaims(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for _, p := range domainPairs(s) {
		x, y := p[0], p[1]
		done, _ := newInvite(t, x, c, InviteParams{})
		if _, err := x.RevokeInvite(ctx, done.ID); err != nil {
			t.Fatal(err)
		}
		_, tok := newInvite(t, x, c, InviteParams{})
		if _, err := x.ReserveUse(ctx, tok, Hold{JID: "r@" + x.Domain(), Owner: "gone", Lease: time.Second}); err != nil {
			t.Fatal(err)
		}
		c.Add(2 * time.Second)
		if n, err := y.Purge(ctx, c.Now()); err != nil || n != 0 {
			t.Errorf("%s purged %d invites (%v), want none of %s's", y.Domain(), n, err, x.Domain())
		}
		if _, err := x.GetInvite(ctx, done.ID); err != nil {
			t.Errorf("%s's revoked invite gone after %s's purge: %v", x.Domain(), y.Domain(), err)
		}
		if rs, err := y.ClaimExpired(ctx, "me", time.Minute, 10); err != nil || len(rs) != 0 {
			t.Errorf("%s claimed %d reservations of %s (%v)", y.Domain(), len(rs), x.Domain(), err)
		}
		rs, err := x.ClaimExpired(ctx, "me", time.Minute, 10)
		if err != nil || len(rs) != 1 || rs[0].JID != "r@"+x.Domain() {
			t.Errorf("%s claimed %+v (%v), want its own lapsed reservation", x.Domain(), rs, err)
		}
		if err == nil && len(rs) == 1 {
			if err := x.ReleaseUse(ctx, rs[0]); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := x.Purge(ctx, c.Now()); err != nil || n != 1 {
			t.Errorf("%s purged %d of its invites (%v), want 1", x.Domain(), n, err)
		}
	}
}

// TestDomainPortal: sign-in links, sessions, account records, the audit
// log, circles and invite trees of one domain are not seen by another.
func TestDomainPortal(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for _, p := range domainPairs(s) {
		x, y := p[0], p[1]
		jid := "alice@" + x.Domain()
		link := newSignIn(t, x, SignInParams{JID: jid, From: "chat"})
		if _, err := y.SignIn(ctx, link); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s shows a sign-in link of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := y.UseSignIn(ctx, link, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s used a sign-in link of %s: %v", y.Domain(), x.Domain(), err)
		}
		if _, err := x.UseSignIn(ctx, link, nil); err != nil {
			t.Errorf("%s: own link after the other's attempt: %v", x.Domain(), err)
		}
		// The per-JID limit on links counts one domain's.
		lim := Limit{Max: 1, Since: c.Now().Add(-time.Hour)}
		if _, err := y.CreateSignIn(ctx, SignInParams{JID: jid, From: "chat", TTL: time.Minute, Limit: lim}); err != nil {
			t.Errorf("%s: sign-in limit counted a link of %s: %v", y.Domain(), x.Domain(), err)
		}

		sess, err := x.CreateSession(ctx, jid, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := y.Session(ctx, sess, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s accepted a session of %s: %v", y.Domain(), x.Domain(), err)
		}
		if err := y.DeleteSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if n, _ := y.DeleteSessions(ctx, jid); n != 0 {
			t.Errorf("%s ended %d sessions of %s", y.Domain(), n, x.Domain())
		}
		if _, err := x.Session(ctx, sess, time.Hour); err != nil {
			t.Errorf("%s: own session after the other's sign-out: %v", x.Domain(), err)
		}

		_, tok := newInvite(t, x, c, InviteParams{Creator: "xmpp:" + jid})
		redeem(t, x, tok, "bob@"+x.Domain())
		if rows, _ := y.Accounts(ctx, AccountOptions{}); strings.Contains(accountJIDs(rows), x.Domain()) {
			t.Errorf("%s lists registrations of %s: %s", y.Domain(), x.Domain(), accountJIDs(rows))
		}
		if rows, _ := x.Accounts(ctx, AccountOptions{}); accountJIDs(rows) != "bob@"+x.Domain() {
			t.Errorf("%s lists %q", x.Domain(), accountJIDs(rows))
		}
		if _, err := y.Account(ctx, "bob@"+x.Domain()); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s.Account(of %s) = %v", y.Domain(), x.Domain(), err)
		}
		if err := y.ForgetAccount(ctx, "bob@"+x.Domain()); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s forgot an account of %s: %v", y.Domain(), x.Domain(), err)
		}
		if tr, err := x.InviteTree(ctx, "bob@"+x.Domain(), nil, 10); err != nil || tr.Size != 2 {
			t.Errorf("%s: tree of its account = %+v, %v; want 2 accounts", x.Domain(), tr, err)
		}
		if tr, err := y.InviteTree(ctx, "bob@"+x.Domain(), nil, 10); err != nil || tr.Size != 1 {
			t.Errorf("%s: tree of an account of %s = %+v, %v; want 1 (unknown)", y.Domain(), x.Domain(), tr, err)
		}

		if err := x.Audit(ctx, "cli", "test."+x.Domain(), "", ""); err != nil {
			t.Fatal(err)
		}
		if log, _ := y.AuditLog(ctx, 0, 0); slices.ContainsFunc(log, func(e AuditEntry) bool { return e.Action == "test."+x.Domain() }) {
			t.Errorf("%s's audit log shows an entry of %s", y.Domain(), x.Domain())
		}
		if log, _ := x.AuditLog(ctx, 0, 0); len(log) != 1 {
			t.Errorf("%s's audit log has %d entries, want 1", x.Domain(), len(log))
		}

		// Circles: the same name in two domains is two circles.
		name := "family"
		if _, err := x.GetCircle(ctx, name); errors.Is(err, ErrNotFound) {
			if _, err := x.CreateCircle(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.AddCircleMember(ctx, name, jid, 0); err != nil {
			t.Fatal(err)
		}
		if m, err := y.CircleMembers(ctx, name); err == nil && slices.ContainsFunc(m, func(o CircleMember) bool { return o.JID == jid }) {
			t.Errorf("%s's circle lists a member of %s's", y.Domain(), x.Domain())
		}
		if err := y.RemoveCircleMember(ctx, name, jid); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s removed a member of %s's circle: %v", y.Domain(), x.Domain(), err)
		}
	}
	// Each domain made its own "family"; deleting one keeps the other.
	a, b := s.ForDomain("a.example"), s.ForDomain("b.example")
	if err := a.DeleteCircle(ctx, "family"); err != nil {
		t.Fatal(err)
	}
	if m, err := b.CircleMembers(ctx, "family"); err != nil || len(m) != 1 {
		t.Errorf("b.example's circle after a.example deleted its own: %+v, %v", m, err)
	}
}

// TestDomainMigration: a database of schema 102 with records of every kind
// is refused a migration without the domain they belong to (and left as it
// was), and with it gives every record that domain.
func TestDomainMigration(t *testing.T) {
	ctx := context.Background()
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	var upTo102 []migration
	for _, m := range saved {
		if m.version <= 102 {
			upTo102 = append(upTo102, m)
		}
	}
	migrations = upTo102
	db := testDatabase(t)
	// Open lays schema 102, then fails to prepare the statements of 104.
	if s, err := Open(ctx, db, Options{}); err == nil {
		s.Close()
	}
	driver, dsn := "sqlite3", db
	if onPostgres(t) {
		driver = "pgx"
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO keys (id, secret_hash, scope, created_at) VALUES ('kkkkkkkkkkkk', x'00', 'create', 1)`,
		`INSERT INTO invites (id, token_hash, type, creator, created_at, expires_at, max_uses) VALUES ('AAAAAAAA', x'00', 'account', 'cli', 1, 9999999999, 1)`,
		`INSERT INTO sessions (token_hash, jid, created_at, seen_at, expires_at) VALUES (x'01', 'a@old.example', 1, 1, 9999999999)`,
		`INSERT INTO signins (token_hash, jid, created_at, expires_at) VALUES (x'02', 'a@old.example', 1, 9999999999)`,
		`INSERT INTO accounts (jid, created_at, invite_id, invite_type, inviter) VALUES ('b@old.example', 1, 'AAAAAAAA', 'account', 'cli')`,
		`INSERT INTO audit (at, actor, action) VALUES (1, 'cli', 'old')`,
		`INSERT INTO circles (name, created_at) VALUES ('fam', 1)`,
		`INSERT INTO circle_members (circle, jid, added_at) VALUES ('fam', 'b@old.example', 1)`,
	} {
		if onPostgres(t) {
			q = pgBytes(q)
		}
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	migrations = saved
	if _, err := Open(ctx, db, Options{Migrate: true}); !errors.Is(err, ErrDomainNeeded) {
		t.Fatalf("migration without a domain: %v, want ErrDomainNeeded", err)
	}
	if !onPostgres(t) {
		if v := pragma(t, db, "user_version"); v != 102 {
			t.Fatalf("after the refused migration: schema %d, want 102 unchanged", v)
		}
		if baks, _ := filepath.Glob(db + ".schema*.bak"); len(baks) != 0 {
			t.Fatalf("the refused migration left copies: %v", baks)
		}
	}
	s, err := Open(ctx, db, Options{Migrate: true, Domain: "old.example"})
	if err != nil {
		t.Fatalf("migration with a domain: %v", err)
	}
	defer s.Close()
	for _, tbl := range append(domainTables, "circle_members") {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+tbl+` WHERE domain <> 'old.example'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v) without the migration's domain", tbl, n, err)
		}
	}
	old, other := s.ForDomain("old.example"), s.ForDomain("new.example")
	if _, err := old.GetKey(ctx, "kkkkkkkkkkkk"); err != nil {
		t.Errorf("key after the migration: %v", err)
	}
	if _, err := other.GetKey(ctx, "kkkkkkkkkkkk"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another domain sees the migrated key: %v", err)
	}
	if _, err := old.GetInvite(ctx, "AAAAAAAA"); err != nil {
		t.Errorf("invite after the migration: %v", err)
	}
	if m, err := old.CircleMembers(ctx, "fam"); err != nil || len(m) != 1 {
		t.Errorf("circle after the migration: %+v, %v", m, err)
	}
	if rows, _ := old.Accounts(ctx, AccountOptions{}); accountJIDs(rows) != "b@old.example" {
		t.Errorf("accounts after the migration: %q", accountJIDs(rows))
	}
	if log, _ := old.AuditLog(ctx, 0, 0); len(log) != 1 {
		t.Errorf("audit after the migration: %d entries, want 1", len(log))
	}
}

// pgBytes turns SQLite's blob literals (x'00') into PostgreSQL's bytea
// ones ('\x00').
func pgBytes(q string) string {
	return regexp.MustCompile(`x'([0-9a-f]*)'`).ReplaceAllString(q, `'\x$1'`)
}

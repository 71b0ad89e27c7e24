package keystore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func cookieHash(v string) []byte {
	h := sha256.Sum256([]byte(v))
	return h[:]
}

func newSignIn(t *testing.T, s *Store, p SignInParams) string {
	t.Helper()
	if p.JID == "" {
		p.JID = "alice@example.com"
	}
	if p.TTL == 0 {
		p.TTL = 10 * time.Minute
	}
	tok, err := s.CreateSignIn(context.Background(), p)
	if err != nil {
		t.Fatalf("CreateSignIn: %v", err)
	}
	return tok
}

func TestSignInLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	browser, other := cookieHash("browser cookie"), cookieHash("another browser")
	created := c.Now()
	bound := newSignIn(t, s, SignInParams{Binding: browser, From: "203.0.113.7"})
	unbound := newSignIn(t, s, SignInParams{JID: "bob@example.com", From: "chat"})
	for _, tok := range []string{bound, unbound} {
		if len(tok) != PortalTokenLen || strings.HasPrefix(tok, "-") || !validPortalToken(tok) {
			t.Fatalf("token %q: want %d base64url characters, not starting with '-'", tok, PortalTokenLen)
		}
	}

	got, err := s.SignIn(ctx, bound)
	want := SignIn{JID: "alice@example.com", From: "203.0.113.7", Bound: true, Created: created, Expires: created.Add(10 * time.Minute)}
	if err != nil || got != want {
		t.Fatalf("SignIn = %+v, %v; want %+v", got, err, want)
	}
	// Looking it up again (a preview, a reload) does not use it.
	if _, err := s.SignIn(ctx, bound); err != nil {
		t.Fatalf("second look: %v", err)
	}
	// Another browser, or none, cannot use a bound link, and leaves it usable.
	for name, b := range map[string][]byte{"another browser": other, "no cookie": nil, "short": browser[:16]} {
		if _, err := s.UseSignIn(ctx, bound, b); !errors.Is(err, ErrBinding) {
			t.Fatalf("%s: UseSignIn = %v, want ErrBinding", name, err)
		}
	}
	if _, err := s.SignIn(ctx, bound); err != nil {
		t.Fatalf("after refused uses the link is gone: %v", err)
	}
	if got, err := s.UseSignIn(ctx, bound, browser); err != nil || got != want {
		t.Fatalf("UseSignIn by the browser that asked = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.UseSignIn(ctx, bound, browser); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
	if _, err := s.SignIn(ctx, bound); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SignIn of a used link: %v, want ErrNotFound", err)
	}

	// An unbound link works in any browser, once.
	if got, err := s.UseSignIn(ctx, unbound, other); err != nil || got.JID != "bob@example.com" || got.Bound || got.From != "chat" {
		t.Fatalf("UseSignIn unbound = %+v, %v", got, err)
	}
	if _, err := s.UseSignIn(ctx, unbound, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second use of the unbound link: %v, want ErrNotFound", err)
	}

	// Expiry, on the store's clock.
	late := newSignIn(t, s, SignInParams{From: "chat"})
	c.Add(10*time.Minute - time.Second)
	if _, err := s.SignIn(ctx, late); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	c.Add(time.Second)
	if _, err := s.SignIn(ctx, late); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SignIn at expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.UseSignIn(ctx, late, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UseSignIn at expiry: %v, want ErrNotFound", err)
	}

	// Malformed or unknown tokens.
	for _, tok := range []string{"", "x", strings.Repeat("A", PortalTokenLen), bound[:42], bound + "A", strings.Repeat("!", PortalTokenLen), strings.Repeat("é", 21) + "A"} {
		if _, err := s.SignIn(ctx, tok); !errors.Is(err, ErrNotFound) {
			t.Errorf("SignIn(%q) = %v, want ErrNotFound", tok, err)
		}
		if _, err := s.UseSignIn(ctx, tok, nil); !errors.Is(err, ErrNotFound) {
			t.Errorf("UseSignIn(%q) = %v, want ErrNotFound", tok, err)
		}
	}
}

func TestSignInValidation(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	ok := SignInParams{JID: "alice@example.com", From: "chat", TTL: 10 * time.Minute}
	for name, change := range map[string]func(p *SignInParams){
		"empty JID":          func(p *SignInParams) { p.JID = "" },
		"no localpart":       func(p *SignInParams) { p.JID = "example.com" },
		"full JID":           func(p *SignInParams) { p.JID = "alice@example.com/phone" },
		"two @":              func(p *SignInParams) { p.JID = "a@b@example.com" },
		"JID too long":       func(p *SignInParams) { p.JID = "a@" + strings.Repeat("x", MaxJIDLen) },
		"JID control":        func(p *SignInParams) { p.JID = "a\n@example.com" },
		"JID not UTF-8":      func(p *SignInParams) { p.JID = "a\xff@example.com" },
		"binding not a hash": func(p *SignInParams) { p.Binding = []byte("cookie") },
		"from too long":      func(p *SignInParams) { p.From = strings.Repeat("1", MaxSignInFrom+1) },
		"from control":       func(p *SignInParams) { p.From = "1.2.3.4\r\nX: y" },
		"no ttl":             func(p *SignInParams) { p.TTL = 0 },
		"ttl too long":       func(p *SignInParams) { p.TTL = MaxSignInTTL + time.Second },
		"limit reaches back too far": func(p *SignInParams) {
			p.Limit = Limit{Max: 5, Since: c.Now().Add(-SignInKeep - time.Second)}
		},
	} {
		p := ok
		change(&p)
		if _, err := s.CreateSignIn(ctx, p); err == nil {
			t.Errorf("%s: CreateSignIn accepted %+v", name, p)
		}
	}
	if n := countRows(t, s, "signins"); n != 0 {
		t.Fatalf("refused requests stored %d links", n)
	}
	p := ok
	p.JID = "a@" + strings.Repeat("x", MaxJIDLen-2)
	p.From = strings.Repeat("1", MaxSignInFrom)
	if _, err := s.CreateSignIn(ctx, p); err != nil {
		t.Fatalf("longest JID and from: %v", err)
	}
}

// TestUseSignInOnceUnderRace: of 20 concurrent uses of one link exactly one
// signs in.
func TestUseSignInOnceUnderRace(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	browser := cookieHash("b")
	tok := newSignIn(t, s, SignInParams{Binding: browser})
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.UseSignIn(ctx, tok, browser)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, ErrNotFound):
				t.Errorf("UseSignIn: %v, want nil or ErrNotFound", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 20 concurrent uses succeeded, want exactly 1", wins.Load())
	}
}

// TestSignInLimitUnderRace: 20 concurrent requests for one address under a
// limit of 5 make exactly 5 links; the refusals say when a slot frees; other
// addresses are not affected.
func TestSignInLimitUnderRace(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	limit := func() Limit { return Limit{Max: 5, Since: c.Now().Add(-time.Hour)} }
	first := c.Now()
	var made atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.CreateSignIn(ctx, SignInParams{JID: "alice@example.com", From: "chat", TTL: 10 * time.Minute, Limit: limit()})
			var le *LimitError
			switch {
			case err == nil:
				made.Add(1)
			case errors.As(err, &le) && errors.Is(err, ErrLimit):
				if !le.Oldest.Equal(first) {
					t.Errorf("LimitError.Oldest %v, want %v", le.Oldest, first)
				}
			default:
				t.Errorf("CreateSignIn: %v, want nil or a *LimitError", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if made.Load() != 5 {
		t.Fatalf("%d links made under a limit of 5", made.Load())
	}
	// Used links count too: the limit is on messages sent.
	if _, err := s.CreateSignIn(ctx, SignInParams{JID: "bob@example.com", From: "chat", TTL: time.Minute, Limit: limit()}); err != nil {
		t.Fatalf("another address: %v", err)
	}
	c.Add(time.Hour)
	if _, err := s.CreateSignIn(ctx, SignInParams{JID: "alice@example.com", From: "chat", TTL: time.Minute, Limit: limit()}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	const idle, maxAge = 12 * time.Hour, 7 * 24 * time.Hour
	created := c.Now()
	tok, err := s.CreateSession(ctx, "alice@example.com", maxAge)
	if err != nil || !validPortalToken(tok) {
		t.Fatalf("CreateSession = %q, %v", tok, err)
	}
	got, err := s.Session(ctx, tok, idle)
	want := Session{JID: "alice@example.com", Created: created, Seen: created, Expires: created.Add(maxAge)}
	if err != nil || got != want {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, want)
	}
	seen := func() time.Time {
		var v int64
		if err := s.r.QueryRow(`SELECT seen_at FROM sessions WHERE token_hash = ?`, hash(tok)).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return time.Unix(v, 0).UTC()
	}
	// Within a minute of the last recorded use: nothing written.
	c.Add(59 * time.Second)
	if got, err := s.Session(ctx, tok, idle); err != nil || !got.Seen.Equal(created) || !seen().Equal(created) {
		t.Fatalf("after 59s: Session = %+v, %v; stored seen %v; want the use at %v kept", got, err, seen(), created)
	}
	c.Add(time.Second)
	if got, err := s.Session(ctx, tok, idle); err != nil || !got.Seen.Equal(c.Now()) || !seen().Equal(c.Now()) {
		t.Fatalf("after a minute: Session = %+v, %v; stored seen %v; want %v", got, err, seen(), c.Now())
	}
	// Used every 11 hours it lives until its maximum age.
	for c.Now().Add(11 * time.Hour).Before(created.Add(maxAge)) {
		c.Add(11 * time.Hour)
		if _, err := s.Session(ctx, tok, idle); err != nil {
			t.Fatalf("%v after creation, used 11 hours ago: %v", c.Now().Sub(created), err)
		}
	}
	c.Add(created.Add(maxAge).Sub(c.Now()))
	if _, err := s.Session(ctx, tok, idle); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at its maximum age: %v, want ErrNotFound", err)
	}

	// Idle too long: gone, and stays gone for a caller with a longer idle time.
	tok2, _ := s.CreateSession(ctx, "alice@example.com", maxAge)
	c.Add(idle - time.Second)
	if _, err := s.Session(ctx, tok2, idle); err != nil {
		t.Fatalf("a second before the idle time: %v", err)
	}
	c.Add(idle)
	if _, err := s.Session(ctx, tok2, idle); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle: %v, want ErrNotFound", err)
	}
	if _, err := s.Session(ctx, tok2, 2*idle); !errors.Is(err, ErrNotFound) {
		t.Fatalf("idle session asked again with a longer idle time: %v, want ErrNotFound", err)
	}

	// Signing out, here and everywhere.
	a1, _ := s.CreateSession(ctx, "alice@example.com", maxAge)
	a2, _ := s.CreateSession(ctx, "alice@example.com", maxAge)
	a3, _ := s.CreateSession(ctx, "alice@example.com", maxAge)
	b1, _ := s.CreateSession(ctx, "bob@example.com", maxAge)
	if err := s.DeleteSession(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, a1, idle); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after sign-out: %v, want ErrNotFound", err)
	}
	for _, tok := range []string{a1, "", "junk", strings.Repeat("A", PortalTokenLen)} {
		if err := s.DeleteSession(ctx, tok); err != nil {
			t.Errorf("DeleteSession(%q) of no session: %v, want nil", tok, err)
		}
	}
	if n, err := s.DeleteSessions(ctx, "alice@example.com"); err != nil || n != 2 {
		t.Fatalf("DeleteSessions = %d, %v; want 2", n, err)
	}
	for _, tok := range []string{a2, a3} {
		if _, err := s.Session(ctx, tok, idle); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after signing out everywhere: %v, want ErrNotFound", err)
		}
	}
	if _, err := s.Session(ctx, b1, idle); err != nil {
		t.Fatalf("another account's session ended: %v", err)
	}

	// Bad input.
	for _, tc := range []struct {
		jid string
		age time.Duration
	}{{"", maxAge}, {"alice", maxAge}, {"alice@example.com/r", maxAge}, {"alice@example.com", 0}, {"alice@example.com", MaxSessionAge + time.Second}} {
		if _, err := s.CreateSession(ctx, tc.jid, tc.age); err == nil {
			t.Errorf("CreateSession(%q, %v) accepted", tc.jid, tc.age)
		}
	}
	if _, err := s.Session(ctx, b1, 0); err == nil {
		t.Error("Session with no idle time accepted")
	}
	if _, err := s.DeleteSessions(ctx, ""); err == nil {
		t.Error("DeleteSessions of an empty JID accepted")
	}
	for _, tok := range []string{"", "x", strings.Repeat("A", PortalTokenLen), strings.Repeat("~", PortalTokenLen)} {
		if _, err := s.Session(ctx, tok, idle); !errors.Is(err, ErrNotFound) {
			t.Errorf("Session(%q) = %v, want ErrNotFound", tok, err)
		}
	}
}

// redeem reserves and confirms one use of the invite with token for jid.
func redeem(t *testing.T, s *Store, token, jid string) {
	t.Helper()
	ctx := context.Background()
	r, err := s.ReserveUse(ctx, token, testHold(jid))
	if err != nil {
		t.Fatalf("ReserveUse: %v", err)
	}
	if err := s.ConfirmUse(ctx, r); err != nil {
		t.Fatalf("ConfirmUse: %v", err)
	}
}

func accountJIDs(rows []AccountRow) string {
	var out []string
	for _, r := range rows {
		out = append(out, r.JID)
	}
	return strings.Join(out, " ")
}

// TestConfirmUseRecordsAccounts: account and contact invites' uses record
// the account (kept through the purge), a reset's use ends the account's
// sessions instead.
func TestConfirmUseRecordsAccounts(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	acct, tok := newInvite(t, s, c, InviteParams{MaxUses: 2})
	contact, ctok := newInvite(t, s, c, InviteParams{Type: TypeContact, Username: "alice", AllowRegister: true, Creator: "xmpp:alice@example.com"})
	_, rtok := newInvite(t, s, c, InviteParams{Type: TypeReset, Username: "alice"})
	t0 := c.Now()
	redeem(t, s, tok, "bob@example.com")
	c.Add(time.Minute)
	redeem(t, s, ctok, "carol@example.com")
	c.Add(time.Minute)
	redeem(t, s, tok, "dave@example.com")

	rows, err := s.Accounts(ctx, AccountOptions{})
	if err != nil || accountJIDs(rows) != "dave@example.com carol@example.com bob@example.com" {
		t.Fatalf("Accounts = %q, %v; want the three, newest first", accountJIDs(rows), err)
	}
	wantBob := Account{JID: "bob@example.com", Created: t0, InviteID: acct.ID, InviteType: TypeAccount, Inviter: "cli"}
	wantCarol := Account{JID: "carol@example.com", Created: t0.Add(time.Minute), InviteID: contact.ID, InviteType: TypeContact, Inviter: "xmpp:alice@example.com"}
	if rows[2].Account != wantBob || rows[1].Account != wantCarol {
		t.Fatalf("records %+v, %+v; want %+v, %+v", rows[2].Account, rows[1].Account, wantBob, wantCarol)
	}
	if rows[0].Seq <= rows[1].Seq || rows[1].Seq <= rows[2].Seq {
		t.Fatalf("seqs %d %d %d: want descending", rows[0].Seq, rows[1].Seq, rows[2].Seq)
	}
	if got, _ := s.Accounts(ctx, AccountOptions{Inviter: "xmpp:alice@example.com"}); accountJIDs(got) != "carol@example.com" {
		t.Fatalf("by inviter: %q", accountJIDs(got))
	}
	if got, _ := s.Accounts(ctx, AccountOptions{Before: rows[0].Seq, Limit: 1}); accountJIDs(got) != "carol@example.com" {
		t.Fatalf("page before the newest: %q", accountJIDs(got))
	}
	if got, _ := s.Accounts(ctx, AccountOptions{Inviter: "cli", Before: rows[0].Seq}); accountJIDs(got) != "bob@example.com" {
		t.Fatalf("inviter's page: %q", accountJIDs(got))
	}

	// A reset ends every session of its account, and only those; it
	// records no account.
	a1, _ := s.CreateSession(ctx, "alice@example.com", time.Hour)
	a2, _ := s.CreateSession(ctx, "alice@example.com", time.Hour)
	b1, _ := s.CreateSession(ctx, "bob@example.com", time.Hour)
	redeem(t, s, rtok, "alice@example.com")
	for _, tok := range []string{a1, a2} {
		if _, err := s.Session(ctx, tok, time.Hour); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session of a reset account: %v, want ErrNotFound", err)
		}
	}
	if _, err := s.Session(ctx, b1, time.Hour); err != nil {
		t.Fatalf("another account's session after the reset: %v", err)
	}
	if got, _ := s.Accounts(ctx, AccountOptions{}); len(got) != 3 {
		t.Fatalf("the reset recorded an account: %q", accountJIDs(got))
	}

	// The invite purge leaves the records alone.
	c.Add(48 * time.Hour)
	if n, err := s.Purge(ctx, c.Now().Add(-time.Hour)); err != nil || n != 3 {
		t.Fatalf("Purge = %d, %v; want the 3 used invites", n, err)
	}
	if got, _ := s.Accounts(ctx, AccountOptions{}); accountJIDs(got) != accountJIDs(rows) || got[2].Account != wantBob {
		t.Fatalf("after the purge: %+v", got)
	}

	// The same JID registered again (after the account was deleted on
	// the server) replaces the record and becomes the newest.
	k, _, err := s.CreateKey(ctx, KeyParams{})
	if err != nil {
		t.Fatal(err)
	}
	again, tok2 := newInvite(t, s, c, InviteParams{Creator: k.Creator()})
	redeem(t, s, tok2, "bob@example.com")
	got, _ := s.Accounts(ctx, AccountOptions{})
	if accountJIDs(got) != "bob@example.com dave@example.com carol@example.com" || got[0].InviteID != again.ID || got[0].Inviter != k.Creator() {
		t.Fatalf("after bob registered again: %+v", got)
	}

	if err := s.ForgetAccount(ctx, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetAccount(ctx, "carol@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forget twice: %v, want ErrNotFound", err)
	}
	if got, _ := s.Accounts(ctx, AccountOptions{}); accountJIDs(got) != "bob@example.com dave@example.com" {
		t.Fatalf("after forgetting carol: %q", accountJIDs(got))
	}
	if _, err := s.Accounts(ctx, AccountOptions{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

// TestResolverConfirmRecordsAccount: a use confirmed by the resolver (after
// an unknown outcome) records the account too.
func TestResolverConfirmRecordsAccount(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	_, tok := newInvite(t, s, c, InviteParams{})
	if _, err := s.ReserveUse(ctx, tok, testHold("erin@example.com")); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute)
	claimed, err := s.ClaimExpired(ctx, "other", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimExpired = %v, %v", claimed, err)
	}
	if err := s.ConfirmUse(ctx, claimed[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Accounts(ctx, AccountOptions{}); accountJIDs(got) != "erin@example.com" {
		t.Fatalf("Accounts = %q", accountJIDs(got))
	}
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	t0 := c.Now()
	for i, a := range []string{"invite.create", "invite.revoke", "key.create", "key.delete"} {
		if err := s.Audit(ctx, "xmpp:admin@example.com", a, "ID"+string(rune('0'+i)), "note"); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second)
	}
	all, err := s.AuditLog(ctx, 0, 0)
	if err != nil || len(all) != 4 || all[0].Action != "key.delete" || all[3].Action != "invite.create" {
		t.Fatalf("AuditLog = %+v, %v; want 4 entries newest first", all, err)
	}
	want := AuditEntry{Seq: all[3].Seq, At: t0, Actor: "xmpp:admin@example.com", Action: "invite.create", Target: "ID0", Detail: "note"}
	if all[3] != want {
		t.Fatalf("oldest entry %+v, want %+v", all[3], want)
	}
	page, _ := s.AuditLog(ctx, all[1].Seq, 1)
	if len(page) != 1 || page[0] != all[2] {
		t.Fatalf("page before %d: %+v, want %+v", all[1].Seq, page, all[2])
	}

	// Long and broken text is cut and mended, never refused.
	long := strings.Repeat("é", MaxAuditDetail) // 2 bytes each
	if err := s.Audit(ctx, "cli", "invite.create", "x\xffy", long); err != nil {
		t.Fatal(err)
	}
	e, _ := s.AuditLog(ctx, 0, 1)
	if d := e[0].Detail; len(d) != MaxAuditDetail || !utf8.ValidString(d) || e[0].Target != "x\uFFFDy" {
		t.Fatalf("detail of %d bytes (valid %v), target %q: want %d bytes of valid text and a mended target",
			len(d), utf8.ValidString(d), e[0].Target, MaxAuditDetail)
	}
	if err := s.Audit(ctx, "cli", "x", strings.Repeat("t", 10000), ""); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.AuditLog(ctx, 0, 1); len(e[0].Target) != maxAuditTarget {
		t.Fatalf("target of %d bytes, want cut to %d", len(e[0].Target), maxAuditTarget)
	}
	for _, args := range [][2]string{{"", "a"}, {"cli", ""}} {
		if err := s.Audit(ctx, args[0], args[1], "", ""); err == nil {
			t.Errorf("Audit(%q, %q) accepted", args[0], args[1])
		}
	}
	if _, err := s.AuditLog(ctx, -1, 0); err == nil {
		t.Error("negative before accepted")
	}
	// The purge keeps the log.
	c.Add(1000 * time.Hour)
	if _, err := s.Purge(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AuditLog(ctx, 0, 0); len(got) != 6 {
		t.Fatalf("%d entries after the purge, want 6", len(got))
	}
}

// TestPurgePortal: sign-in links go a day after they were made, used or
// not; sessions once past their maximum age.
func TestPurgePortal(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	used := newSignIn(t, s, SignInParams{From: "chat"})
	if _, err := s.UseSignIn(ctx, used, nil); err != nil {
		t.Fatal(err)
	}
	newSignIn(t, s, SignInParams{From: "chat"}) // expires unused
	short, _ := s.CreateSession(ctx, "alice@example.com", time.Hour)
	long, _ := s.CreateSession(ctx, "alice@example.com", 48*time.Hour)
	c.Add(2 * time.Hour)
	fresh := newSignIn(t, s, SignInParams{From: "chat"})
	if _, err := s.Purge(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	// The used and expired links are still within the limit's reach.
	if n := countRows(t, s, "signins"); n != 3 {
		t.Fatalf("%d links after an early purge, want 3", n)
	}
	if n := countRows(t, s, "sessions"); n != 1 {
		t.Fatalf("%d sessions after the purge, want 1 (the other is past its maximum age)", n)
	}
	if _, err := s.Session(ctx, long, 24*time.Hour); err != nil {
		t.Fatalf("live session purged: %v", err)
	}
	_ = short
	c.Add(SignInKeep - 2*time.Hour + time.Second)
	if _, err := s.Purge(ctx, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, s, "signins"); n != 1 {
		t.Fatalf("%d links a day later, want 1 (made 2 hours after the others)", n)
	}
	var h []byte
	if err := s.r.QueryRow(`SELECT token_hash FROM signins`).Scan(&h); err != nil || !bytes.Equal(h, hash(fresh)) {
		t.Fatalf("kept link %x, %v; want the fresh one", h, err)
	}
}

func TestPortalTokensNeverStoredInClear(t *testing.T) {
	ctx := context.Background()
	s, _, path := openTest(t)
	var secrets []string
	for range 5 {
		secrets = append(secrets, newSignIn(t, s, SignInParams{Binding: cookieHash("c"), From: "chat"}))
		tok, err := s.CreateSession(ctx, "alice@example.com", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, tok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(path + suffix); err == nil {
			all = append(all, b...)
		}
	}
	for _, sec := range secrets {
		if bytes.Contains(all, []byte(sec)) {
			t.Errorf("database files contain token %q in clear", sec[:4]+"…")
		}
	}
}

func ids(invs []Invite) string {
	var out []string
	for _, i := range invs {
		out = append(out, i.ID)
	}
	return strings.Join(out, " ")
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	pending, _ := newInvite(t, s, c, InviteParams{Creator: "xmpp:alice@example.com", Type: TypeContact, Username: "alice"})
	used, tok := newInvite(t, s, c, InviteParams{})
	redeem(t, s, tok, "bob@example.com")
	revoked, _ := newInvite(t, s, c, InviteParams{Creator: "xmpp:alice@example.com", Type: TypeContact, Username: "alice"})
	if _, err := s.RevokeInvite(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	expired, _ := newInvite(t, s, c, InviteParams{Type: TypeReset, Username: "carol", Expires: c.Now().Add(time.Minute)})
	other, _ := newInvite(t, s, c, InviteParams{Creator: "xmpp:alice@example.com.evil", Type: TypeContact, Username: "alice"})
	c.Add(time.Minute)

	for _, tc := range []struct {
		name string
		o    ListOptions
		want []Invite
	}{
		{"pending (default)", ListOptions{}, []Invite{pending, other}},
		{"all", ListOptions{All: true}, []Invite{pending, used, revoked, expired, other}},
		{"pending", ListOptions{State: StatePending}, []Invite{pending, other}},
		{"used", ListOptions{State: StateUsed}, []Invite{used}},
		{"revoked", ListOptions{State: StateRevoked}, []Invite{revoked}},
		{"expired", ListOptions{State: StateExpired}, []Invite{expired}},
		{"state wins over All", ListOptions{All: true, State: StateUsed}, []Invite{used}},
		{"creator, exactly", ListOptions{All: true, Creator: "xmpp:alice@example.com"}, []Invite{pending, revoked}},
		{"creator and state", ListOptions{Creator: "xmpp:alice@example.com", State: StateRevoked}, []Invite{revoked}},
		{"type", ListOptions{All: true, Type: TypeAccount}, []Invite{used}},
		{"type reset", ListOptions{All: true, Type: TypeReset}, []Invite{expired}},
		{"newest first", ListOptions{All: true, Newest: true}, []Invite{other, expired, revoked, used, pending}},
		{"newest first, limited", ListOptions{All: true, Newest: true, Limit: 2}, []Invite{other, expired}},
		{"before", ListOptions{All: true, Before: expired.ID, Limit: 2}, []Invite{revoked, used}},
		{"before, filtered", ListOptions{Creator: "xmpp:alice@example.com", All: true, Before: other.ID}, []Invite{revoked, pending}},
		{"before the oldest", ListOptions{All: true, Before: pending.ID}, nil},
		{"before a purged ID starts from the newest", ListOptions{All: true, Before: "AAAAAAAA", Limit: 1}, []Invite{other}},
		{"after, newest first", ListOptions{All: true, After: revoked.ID, Newest: true}, []Invite{other, expired}},
	} {
		got, err := s.ListInvites(ctx, tc.o)
		if err != nil || ids(got) != ids(tc.want) {
			t.Errorf("%s: ListInvites = %q, %v; want %q", tc.name, ids(got), err, ids(tc.want))
		}
	}
	// Paging backwards through everything, two at a time.
	var all []string
	for before := ""; ; {
		page, err := s.ListInvites(ctx, ListOptions{All: true, Newest: true, Before: before, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, ids(page))
		before = page[len(page)-1].ID
	}
	if got, want := strings.Join(all, " "), ids([]Invite{other, expired, revoked, used, pending}); got != want {
		t.Errorf("paged backwards: %q, want %q", got, want)
	}
	for _, o := range []ListOptions{{State: "lost"}, {Type: "party"}, {Limit: -1}} {
		if _, err := s.ListInvites(ctx, o); err == nil {
			t.Errorf("ListInvites(%+v) accepted", o)
		}
	}
}

// TestMigrateFrom10 upgrades a database of the 1.0 schema (user_version
// 100, made by the 1.0 code path: the embedded schema.sql alone): every
// invite and use is kept, the portal's tables are added and work, and the
// accounts made through invites not yet purged are recorded.
func TestMigrateFrom10(t *testing.T) {
	ctx := context.Background()
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = nil
	c := newClock()
	path := filepath.Join(t.TempDir(), "test.db")
	db := create10(t, path)
	if v := pragma(t, path, "user_version"); v != baseVersion {
		t.Fatalf("1.0 database at schema %d, want %d", v, baseVersion)
	}
	// The 1.0 code wrote uses without the accounts table, as Seed does.
	t0 := c.Now()
	seeds := []SeedInvite{
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1}, Uses: []Use{{"bob@example.com", t0}}},
		{InviteParams: InviteParams{Type: TypeContact, Username: "alice", Creator: "xmpp:alice@example.com", AllowRegister: true, MaxUses: 3},
			Uses: []Use{{"carol@example.com", t0.Add(time.Minute)}}},
		{InviteParams: InviteParams{Type: TypeReset, Username: "alice", Creator: "cli", MaxUses: 1}, Uses: []Use{{"alice@example.com", t0.Add(2 * time.Minute)}}},
		{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1}, Revoked: t0},
	}
	for range 3 {
		seeds = append(seeds, SeedInvite{InviteParams: InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1}})
	}
	for i := range seeds {
		seeds[i].Created, seeds[i].Expires = t0, t0.Add(time.Hour)
	}
	tokens := seed10(t, db, seeds)
	db.Close()

	migrations = saved
	if _, err := Open(ctx, path, Options{}); !errors.Is(err, ErrNeedsMigrate) {
		t.Fatalf("Open of the 1.0 schema without Migrate: %v, want ErrNeedsMigrate", err)
	}
	if _, err := Open(ctx, path, Options{Migrate: true}); !errors.Is(err, ErrDomainNeeded) {
		t.Fatalf("migrate without the domain of the records: %v, want ErrDomainNeeded", err)
	}
	// Its copy, made first, stays; the next attempt makes its own.
	baks, _ := filepath.Glob(path + ".schema*.bak")
	for _, b := range baks {
		os.Remove(b)
	}
	s2, err := Open(ctx, path, Options{Now: c.Now, Migrate: true, Domain: "example.com"})
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	defer s2.Close()
	s2 = s2.ForDomain("example.com")
	// SchemaVersion is 101, or more with -tags schemanext.
	if v, err := s2.Schema(ctx); err != nil || v != SchemaVersion() || v < 101 || migrations[0].version != 101 {
		t.Fatalf("schema after migration %d, %v; want %d (at least 101)", v, err, SchemaVersion())
	}
	for _, tok := range tokens {
		if _, err := s2.InviteByToken(ctx, tok); err != nil {
			t.Fatalf("invite lost in the migration: %v", err)
		}
	}
	if all, _ := s2.ListInvites(ctx, ListOptions{All: true}); len(all) != 7 {
		t.Fatalf("%d invites after the migration, want 7", len(all))
	}
	if n := countRows(t, s2, "uses"); n != 3 {
		t.Fatalf("%d uses after the migration, want 3", n)
	}
	rows, err := s2.Accounts(ctx, AccountOptions{})
	if err != nil || accountJIDs(rows) != "carol@example.com bob@example.com" || rows[0].Inviter != "xmpp:alice@example.com" || rows[0].InviteType != TypeContact {
		t.Fatalf("accounts recorded from the 1.0 uses: %+v, %v", rows, err)
	}
	// The new tables work.
	tok := newSignIn(t, s2, SignInParams{From: "chat"})
	if _, err := s2.UseSignIn(ctx, tok, nil); err != nil {
		t.Fatal(err)
	}
	stok, err := s2.CreateSession(ctx, "alice@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Session(ctx, stok, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s2.Audit(ctx, "cli", "test", "", ""); err != nil {
		t.Fatal(err)
	}
	// STRICT tables refuse a value of the wrong type.
	if _, err := s2.w.Exec(`INSERT INTO audit (at, actor, action) VALUES ('soon', 'cli', 'x')`); err == nil {
		t.Error("audit accepted a text time: not a STRICT table")
	}
}

// create10 makes a database of the 1.0 schema at path, as the 1.0 binary
// did (migrations must be nil), and returns a plain connection to it: the
// store's statements name columns of later schemas.
func create10(t *testing.T, path string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := create(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return db
}

// seed10 writes seeds into a 1.0 database as the 1.0 binary did, and
// returns their tokens.
func seed10(t *testing.T, db *sql.DB, seeds []SeedInvite) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var tokens []string
	for _, p := range seeds {
		token, tokenHash := newInviteToken()
		inv := Invite{ID: inviteID(tokenHash)}
		res, err := tx.ExecContext(ctx, `INSERT INTO invites
			(id, token_hash, type, username, creator, note, allow_register, created_at, expires_at, max_uses)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, inv.ID, tokenHash, string(p.Type), p.Username, p.Creator,
			p.Note, p.AllowRegister, unix(p.Created), unix(p.Expires), p.MaxUses)
		if err != nil {
			t.Fatal(err)
		}
		if inv.seq, err = res.LastInsertId(); err != nil {
			t.Fatal(err)
		}
		if err := seedState(ctx, tx, &inv, p); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, token)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tokens
}

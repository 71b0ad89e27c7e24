package keystore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(c.t.Load(), 0).UTC() }
func (c *clock) Add(d time.Duration) { c.t.Add(int64(d / time.Second)) }
func openTest(t *testing.T) (*Store, *clock, string) {
	t.Helper()
	c := newClock()
	path := testDatabase(t)
	s, err := Open(context.Background(), path, Options{Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c, path
}

func newInvite(t *testing.T, s *Store, c *clock, p InviteParams) (Invite, string) {
	t.Helper()
	if p.Type == "" {
		p.Type = TypeAccount
	}
	if p.Creator == "" {
		p.Creator = "cli"
	}
	if p.MaxUses == 0 {
		p.MaxUses = 1
	}
	if p.Expires.IsZero() {
		p.Expires = c.Now().Add(time.Hour)
	}
	inv, tok, err := s.CreateInvite(context.Background(), p)
	if err != nil {
		t.Fatalf("CreateInvite: %v", err)
	}
	return inv, tok
}

func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	k, cred, err := s.CreateKey(ctx, KeyParams{Name: "My key", Scope: ScopeManage})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := strings.Cut(cred, "/")
	if !ok || len(id) != 12 || len(secret) != 43 || id != k.ID {
		t.Fatalf("credential %q: want 12-char ID / 43-char secret matching key %q", cred, k.ID)
	}
	got, err := s.Authenticate(ctx, cred)
	if err != nil || got.ID != k.ID || got.Scope != ScopeManage || got.Name != "My key" {
		t.Fatalf("Authenticate = %+v, %v; want key %s", got, err, k.ID)
	}
	if got.LastUsed.IsZero() {
		t.Error("LastUsed not recorded")
	}
	for name, bad := range map[string]string{
		"wrong secret": id + "/" + strings.Repeat("A", 43),
		"unknown id":   "AAAAAAAAAAAA/" + secret,
		"no slash":     id + secret,
		"empty":        "",
		"bad chars":    id + "/" + secret + "!",
		"empty secret": id + "/",
	} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: Authenticate err = %v, want ErrUnauthorized", name, err)
		}
	}
	// Expiry.
	_, cred2, err := s.CreateKey(ctx, KeyParams{Expires: c.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, cred2); err != nil {
		t.Fatalf("fresh expiring key: %v", err)
	}
	c.Add(time.Hour)
	if _, err := s.Authenticate(ctx, cred2); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("expired key: err = %v, want ErrUnauthorized", err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != k.ID {
		t.Fatalf("ListKeys = %v, %v; want 2 keys, oldest first", keys, err)
	}
	if _, err := s.DeleteKey(ctx, k.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, cred); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("deleted key: err = %v, want ErrUnauthorized", err)
	}
	if _, err := s.DeleteKey(ctx, k.ID, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: err = %v, want ErrNotFound", err)
	}
}

func TestParseCredentialAcceptsSeedShape(t *testing.T) {
	id, secret, err := ParseCredential("HTwALnKL/73UUylA-2ZJbu9x1XMATuIbjWpip8ow1")
	if err != nil || id != "HTwALnKL" || secret != "73UUylA-2ZJbu9x1XMATuIbjWpip8ow1" {
		t.Fatalf("ParseCredential = %q, %q, %v", id, secret, err)
	}
}

func TestSecretsNeverStoredInClear(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	var secrets []string
	for i := 0; i < 5; i++ {
		_, cred, err := s.CreateKey(ctx, KeyParams{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		_, secret, _ := strings.Cut(cred, "/")
		secrets = append(secrets, secret)
		_, tok := newInvite(t, s, c, InviteParams{})
		secrets = append(secrets, tok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil {
			all = append(all, b...)
		}
	}
	if len(all) == 0 {
		t.Fatal("database file is empty")
	}
	for _, sec := range secrets {
		if bytes.Contains(all, []byte(sec)) {
			t.Errorf("database files contain secret or token %q in clear", sec[:4]+"…")
		}
	}
}

func TestInviteStatesAndRevoke(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	inv, tok := newInvite(t, s, c, InviteParams{Note: "for bob"})
	if len(inv.ID) != InviteIDLen || len(tok) != TokenLen {
		t.Fatalf("ID %q token length %d: want %d and %d", inv.ID, len(tok), InviteIDLen, TokenLen)
	}
	byTok, err := s.GetInvite(ctx, tok)
	if err != nil || byTok.ID != inv.ID || byTok.Note != "for bob" {
		t.Fatalf("GetInvite(token) = %+v, %v", byTok, err)
	}
	byID, err := s.GetInvite(ctx, inv.ID)
	if err != nil || byID.ID != inv.ID {
		t.Fatalf("GetInvite(id) = %+v, %v", byID, err)
	}
	if _, err := s.InviteByToken(ctx, inv.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("InviteByToken(id) err = %v, want ErrNotFound: an ID must not act as a token", err)
	}
	if st := byID.State(c.Now()); st != StatePending {
		t.Fatalf("state %s, want pending", st)
	}
	if _, err := s.RevokeInvite(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeInvite(ctx, inv.ID); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoke twice: %v, want ErrRevoked", err)
	}
	if _, err := s.ReserveUse(ctx, tok, testHold("x@example.com")); !errors.Is(err, ErrRevoked) {
		t.Fatalf("reserve revoked: %v, want ErrRevoked", err)
	}
	inv2, tok2 := newInvite(t, s, c, InviteParams{})
	c.Add(2 * time.Hour)
	if _, err := s.ReserveUse(ctx, tok2, testHold("x@example.com")); !errors.Is(err, ErrExpired) {
		t.Fatalf("reserve expired: %v, want ErrExpired", err)
	}
	if _, err := s.RevokeInvite(ctx, inv2.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("revoke expired: %v, want ErrExpired", err)
	}
	if _, err := s.ReserveUse(ctx, strings.Repeat("x", TokenLen), testHold("x@example.com")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reserve unknown: %v, want ErrNotFound", err)
	}
}

func TestReservationLifecycle(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	inv, tok := newInvite(t, s, c, InviteParams{MaxUses: 2})
	r1, err := s.ReserveUse(ctx, tok, testHold("alice@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveUse(ctx, tok, testHold("alice@example.com")); !errors.Is(err, ErrAccountHeld) {
		t.Fatalf("second reservation for the same account: %v, want ErrAccountHeld", err)
	}
	r2, err := s.ReserveUse(ctx, tok, testHold("carol@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveUse(ctx, tok, testHold("dave@example.com")); !errors.Is(err, ErrInUse) {
		t.Fatalf("third reservation of 2-use invite: %v, want ErrInUse", err)
	}
	// A reservation never lapses by itself: its outcome must be resolved.
	c.Add(30 * time.Minute)
	if _, err := s.ReserveUse(ctx, tok, testHold("dave@example.com")); !errors.Is(err, ErrInUse) {
		t.Fatalf("reservation half an hour later: %v, want ErrInUse (reservations do not lapse)", err)
	}
	c.Add(-30 * time.Minute)
	h, err := s.HeldUses(ctx, tok, "carol@example.com")
	if err != nil || h.Count != 2 || h.Pending == nil || h.Pending.ID != r2.ID || !h.Until.Equal(c.Now().Add(time.Minute).Truncate(time.Second)) {
		t.Fatalf("HeldUses = %+v, %v; want 2 held, carol's pending, until a minute from now", h, err)
	}
	if err := s.ReleaseUse(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmUse(ctx, r1); err != nil {
		t.Fatal(err)
	}
	r4, err := s.ReserveUse(ctx, tok, testHold("bob@example.com"))
	if err != nil {
		t.Fatalf("reserve after release: %v", err)
	}
	if err := s.ConfirmUse(ctx, r4); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveUse(ctx, tok, testHold("erin@example.com")); !errors.Is(err, ErrUsedUp) {
		t.Fatalf("reserve used-up: %v, want ErrUsedUp", err)
	}
	got, _ := s.GetInvite(ctx, inv.ID)
	if got.Uses != 2 || got.State(c.Now()) != StateUsed {
		t.Fatalf("invite uses %d state %s, want 2 used", got.Uses, got.State(c.Now()))
	}
	uses, err := s.Uses(ctx, inv.ID)
	if err != nil || len(uses) != 2 || uses[0].JID != "alice@example.com" || uses[1].JID != "bob@example.com" {
		t.Fatalf("Uses = %+v, %v", uses, err)
	}
	if err := s.ConfirmUse(ctx, r4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("confirm twice: %v, want ErrNotFound", err)
	}
}

func TestLeasesAndClaims(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	_, tok := newInvite(t, s, c, InviteParams{MaxUses: 3})
	mine, err := s.ReserveUse(ctx, tok, Hold{JID: "a@example.com", Owner: "one", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := s.ReserveUse(ctx, tok, Hold{JID: "b@example.com", Owner: "two", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimExpired(ctx, "three", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim before any lease ran out = %+v, %v; want none", got, err)
	}
	c.Add(50 * time.Second)
	// Owner one renews; owner two stopped. A renewal of another's
	// reservation does nothing.
	if err := s.RenewLeases(ctx, "one", []int64{mine.ID, theirs.ID}, c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	c.Add(20 * time.Second)
	got, err := s.ClaimExpired(ctx, "three", time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != theirs.ID || got[0].JID != "b@example.com" || got[0].Owner != "three" || got[0].Invite.ID != theirs.Invite.ID {
		t.Fatalf("claim after two's lease ran out = %+v, %v; want two's reservation only", got, err)
	}
	if again, err := s.ClaimExpired(ctx, "four", time.Minute, 10); err != nil || len(again) != 0 {
		t.Fatalf("second claim = %+v, %v; want none (three holds a fresh lease)", again, err)
	}
	if err := s.ConfirmUse(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute)
	got, err = s.ClaimExpired(ctx, "three", time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != mine.ID {
		t.Fatalf("claim after one stopped renewing = %+v, %v", got, err)
	}
}

// TestReserveExactlyOnceUnderRace: 40 reservations race for an invite's
// remaining uses, from two instances on PostgreSQL; exactly as many succeed
// as there are uses, and the invite ends used up.
func TestReserveExactlyOnceUnderRace(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	st := instances(t, s, c, path)
	for _, maxUses := range []int{1, 3} {
		inv, tok := newInvite(t, s, c, InviteParams{MaxUses: maxUses})
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := st[i%2]
				r, err := s.ReserveUse(ctx, tok, Hold{JID: fmt.Sprintf("u%d@example.com", i), Owner: fmt.Sprintf("instance%d", i%2), Lease: time.Minute})
				if err == nil {
					ok.Add(1)
					if err := s.ConfirmUse(ctx, r); err != nil {
						t.Error(err)
					}
				} else if !errors.Is(err, ErrInUse) && !errors.Is(err, ErrUsedUp) {
					t.Errorf("unexpected error %v", err)
				}
			}()
		}
		wg.Wait()
		if int(ok.Load()) != maxUses {
			t.Fatalf("%d-use invite: %d reservations succeeded", maxUses, ok.Load())
		}
		got, err := s.GetInvite(ctx, inv.ID)
		if err != nil || got.Uses != maxUses {
			t.Fatalf("%d-use invite after the race: %d uses, %v", maxUses, got.Uses, err)
		}
	}
}

func TestConcurrentCreatesAllCommitted(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	const n = 50
	toks := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, tok, err := s.CreateInvite(ctx, InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: c.Now().Add(time.Hour)})
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	s.Close()
	s2, err := Open(ctx, path, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	list, err := s2.ListInvites(ctx, ListOptions{})
	if err != nil || len(list) != n {
		t.Fatalf("after reopen: %d invites, %v; want %d", len(list), err, n)
	}
	for _, tok := range toks {
		if _, err := s2.InviteByToken(ctx, tok); err != nil {
			t.Fatalf("token not found after reopen: %v", err)
		}
	}
}

// TestLimitIsAtomic: 30 creations race under a creator's limit of 10, from
// two instances on PostgreSQL, for both limits the callers set: a key's
// quota (invites per hour, by the key) and a person's user_invites_per_day.
// Exactly 10 are created.
func TestLimitIsAtomic(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	st := instances(t, s, c, path)
	key, _, err := s.CreateKey(ctx, KeyParams{Name: "quota", Scope: ScopeCreate, Quota: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    InviteParams
	}{
		{"key quota", InviteParams{Type: TypeAccount, Creator: key.Creator(),
			Limit: Limit{Max: key.Quota, Since: c.Now().Add(-time.Hour)}}},
		{"user daily quota", InviteParams{Type: TypeContact, Username: "u", Creator: "xmpp:u@example.com",
			Limit: Limit{Max: 10, Since: c.Now().Add(-24 * time.Hour)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.MaxUses, p.Expires = 1, c.Now().Add(time.Hour)
			var ok atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < 30; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := st[i%2].CreateInvite(ctx, p)
					if err == nil {
						ok.Add(1)
					} else if !errors.Is(err, ErrLimit) {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 10 {
				t.Fatalf("%d invites created under a limit of 10", ok.Load())
			}
			if n, _ := s.CountInvites(ctx, p.Creator, c.Now().Add(-time.Hour)); n != 10 {
				t.Fatalf("CountInvites = %d, want 10", n)
			}
		})
	}
}

// TestLimitErrorTellsWhenASlotFrees checks that a refused invite says when
// the creator may create again: when the oldest of its last Max invites in
// the window was created.
func TestLimitErrorTellsWhenASlotFrees(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	const creator = "xmpp:quota@example.com"
	limit := func() Limit { return Limit{Max: 3, Since: c.Now().Add(-time.Hour)} }
	create := func() error {
		_, _, err := s.CreateInvite(ctx, InviteParams{Type: TypeAccount, Creator: creator, MaxUses: 1,
			Expires: c.Now().Add(time.Hour), Limit: limit()})
		return err
	}
	// Invites at minutes 0, 50, 61 and 70: at minute 75 the first has left
	// the window and the other three fill the limit.
	var created []time.Time
	for _, step := range []time.Duration{50, 11, 9, 5} {
		created = append(created, c.Now())
		if err := create(); err != nil {
			t.Fatal(err)
		}
		c.Add(step * time.Minute)
	}
	err := create()
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) {
		t.Fatalf("err %v, want a *LimitError that is ErrLimit", err)
	}
	if !le.Oldest.Equal(created[1]) {
		t.Errorf("Oldest %v, want %v (the second invite: the first has left the window)", le.Oldest, created[1])
	}
	// Once that invite leaves the window, one more may be created.
	c.Add(le.Oldest.Add(time.Hour).Sub(c.Now()) + time.Second)
	if err := create(); err != nil {
		t.Fatalf("after the oldest left the window: %v", err)
	}
	if err := create(); !errors.Is(err, ErrLimit) {
		t.Fatalf("second create after one slot freed: %v, want ErrLimit", err)
	}
}

func TestListPagingAndAll(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	var ids []string
	for i := 0; i < 7; i++ {
		inv, _ := newInvite(t, s, c, InviteParams{})
		ids = append(ids, inv.ID)
	}
	if _, err := s.RevokeInvite(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for {
		page, err := s.ListInvites(ctx, ListOptions{All: true, After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, inv := range page {
			got = append(got, inv.ID)
		}
		after = page[len(page)-1].ID
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("paged list %v, want %v", got, ids)
	}
	pending, _ := s.ListInvites(ctx, ListOptions{})
	if len(pending) != 6 {
		t.Fatalf("pending = %d, want 6 (one revoked)", len(pending))
	}
}

func TestDeleteKeyRevokesInvites(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	k, _, _ := s.CreateKey(ctx, KeyParams{})
	other, _, _ := s.CreateKey(ctx, KeyParams{})
	for i := 0; i < 3; i++ {
		newInvite(t, s, c, InviteParams{Creator: k.Creator()})
	}
	newInvite(t, s, c, InviteParams{Creator: other.Creator()})
	n, err := s.DeleteKey(ctx, k.ID, true)
	if err != nil || n != 3 {
		t.Fatalf("DeleteKey revoked %d, %v; want 3", n, err)
	}
	pending, _ := s.ListInvites(ctx, ListOptions{})
	if len(pending) != 1 || pending[0].Creator != other.Creator() {
		t.Fatalf("pending after revoke: %+v", pending)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	used, tok := newInvite(t, s, c, InviteParams{})
	r, _ := s.ReserveUse(ctx, tok, testHold("a@example.com"))
	s.ConfirmUse(ctx, r)
	revoked, _ := newInvite(t, s, c, InviteParams{})
	s.RevokeInvite(ctx, revoked.ID)
	expiring, _ := newInvite(t, s, c, InviteParams{Expires: c.Now().Add(time.Minute)})
	live, _ := newInvite(t, s, c, InviteParams{Expires: c.Now().Add(100 * 24 * time.Hour)})
	if n, err := s.Purge(ctx, c.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("early purge removed %d, %v", n, err)
	}
	c.Add(48 * time.Hour)
	n, err := s.Purge(ctx, c.Now().Add(-24*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("purge removed %d, %v; want 3", n, err)
	}
	for _, id := range []string{used.ID, revoked.ID, expiring.ID} {
		if _, err := s.GetInvite(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s still there after purge", id)
		}
	}
	if _, err := s.GetInvite(ctx, live.ID); err != nil {
		t.Errorf("live invite purged: %v", err)
	}
	if u, _ := s.Uses(ctx, used.ID); len(u) != 0 {
		t.Errorf("uses of purged invite left behind")
	}
}

func TestReopenKeepsVersion(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	inv, _ := newInvite(t, s, c, InviteParams{})
	s.Close()
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.GetInvite(ctx, inv.ID); err != nil {
		t.Fatal(err)
	}
}

func TestQueryPlansUseIndexes(t *testing.T) {
	s, _, _ := openTest(t)
	for _, q := range []struct {
		sql, want string
		args      []any
	}{
		{`EXPLAIN QUERY PLAN DELETE FROM invites WHERE done_at < 1 OR expires_at < 1`, "invites_expires", nil},
		{`EXPLAIN QUERY PLAN SELECT count(*) FROM invites WHERE creator = 'x' AND created_at > 1`, "invites_creator", nil},
		{`EXPLAIN QUERY PLAN ` + limitOldestSQL, "invites_creator", []any{"x", "a.example", 1, 9}},
		// The lookup of a token (inviteByToken).
		{`EXPLAIN QUERY PLAN ` + inviteByIDSQL, "USING INDEX sqlite_autoindex_invites", []any{"AAAAAAAA", "a.example"}},
		{`EXPLAIN QUERY PLAN SELECT seq FROM invites WHERE done_at < 1 OR expires_at < 1 LIMIT 500`, "invites_expires", nil},
		// The resolver's claim of reservations whose lease ran out.
		{`EXPLAIN QUERY PLAN SELECT id FROM uses WHERE used_at IS NULL AND lease_until <= 1 ORDER BY lease_until LIMIT 100`, "uses_pending_lease", nil},
	} {
		rows, err := s.r.Query(q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, q.want) || strings.Contains(joined, "SCAN ") {
			t.Errorf("%s\nplan: %s\nwant an index search on %s", q.sql, joined, q.want)
		}
		t.Logf("%s -> %s", q.sql, joined)
	}
}

func TestPurgeInChunks(t *testing.T) {
	ctx := context.Background()
	s, c, _ := openTest(t)
	for i := 0; i < purgeChunk*2+7; i++ {
		newInvite(t, s, c, InviteParams{Expires: c.Now().Add(time.Minute)})
	}
	keep, _ := newInvite(t, s, c, InviteParams{Expires: c.Now().Add(48 * time.Hour)})
	c.Add(time.Hour)
	n, err := s.Purge(ctx, c.Now())
	if err != nil || n != purgeChunk*2+7 {
		t.Fatalf("Purge = %d, %v; want %d", n, err, purgeChunk*2+7)
	}
	if _, err := s.GetInvite(ctx, keep.ID); err != nil {
		t.Fatalf("live invite purged: %v", err)
	}
}

// TestCommittedReportsEveryWrite checks Options.Committed: every write is
// counted in exactly one reported transaction, concurrent ones share.
func TestCommittedReportsEveryWrite(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	var mu sync.Mutex
	var writes, txs int
	s, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), Options{Now: c.Now, Committed: func(n int, took time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if n < 1 || took <= 0 || err != nil {
			t.Errorf("Committed(%d, %v, %v)", n, took, err)
		}
		writes += n
		txs++
	}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := InviteParams{Type: TypeAccount, Creator: "cli", MaxUses: 1, Expires: c.Now().Add(time.Hour)}
			if _, _, err := s.CreateInvite(ctx, p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	if writes != n || txs < 1 || txs > n {
		t.Fatalf("reported %d writes in %d transactions, want %d writes", writes, txs, n)
	}
	t.Logf("%d writes in %d transactions", writes, txs)
}

// testHold reserves for jid as an instance named "test", leased for a minute.
func testHold(jid string) Hold {
	return Hold{JID: jid, Owner: "test", Lease: time.Minute}
}

// TestLeasesAcrossInstances: two instances (two handles on PostgreSQL)
// share a database, each the owner of its reservations. Neither claims nor
// renews the other's live reservations; once instance a stops renewing
// ("dies"), its reservations are claimed, each by exactly one of many
// claimers racing on both instances, and resolved; a late word from the
// dead owner changes nothing.
func TestLeasesAcrossInstances(t *testing.T) {
	ctx := context.Background()
	s, c, path := openTest(t)
	st := instances(t, s, c, path)
	a, b := st[0], st[1]
	const n = 12
	_, tok := newInvite(t, s, c, InviteParams{MaxUses: n + 1})
	var mine []Reservation
	var ids []int64
	for i := range n {
		r, err := a.ReserveUse(ctx, tok, Hold{JID: fmt.Sprintf("a%d@example.com", i), Owner: "a", Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		mine, ids = append(mine, r), append(ids, r.ID)
	}
	theirs, err := b.ReserveUse(ctx, tok, Hold{JID: "b@example.com", Owner: "b", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Live leases: b claims nothing of a's, and its renewal of a's IDs
	// does not extend them.
	if got, err := b.ClaimExpired(ctx, "b", time.Minute, 100); err != nil || len(got) != 0 {
		t.Fatalf("b's claim while a's leases run = %+v, %v; want none", got, err)
	}
	c.Add(50 * time.Second)
	if err := b.RenewLeases(ctx, "b", append(ids, theirs.ID), c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewLeases(ctx, "a", []int64{theirs.ID}, c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// a dies: its leases run out at 60 s; b's own runs to 110 s.
	c.Add(20 * time.Second)
	var claimed sync.Map
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("claimer%d", i)
			got, err := st[i%2].ClaimExpired(ctx, owner, time.Minute, 3)
			if err != nil {
				t.Error(err)
			}
			for _, r := range got {
				if prev, dup := claimed.LoadOrStore(r.ID, r); dup {
					t.Errorf("reservation %d claimed twice, by %s and %s", r.ID, prev.(Reservation).Owner, r.Owner)
				}
			}
		}()
	}
	wg.Wait()
	// The racers took what they could (3 each); whoever is left claims
	// the rest, as the next resolver round would.
	got, err := b.ClaimExpired(ctx, "b", time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if _, dup := claimed.LoadOrStore(r.ID, r); dup {
			t.Errorf("reservation %d claimed twice", r.ID)
		}
	}
	count := 0
	claimed.Range(func(k, v any) bool {
		count++
		r := v.(Reservation)
		if r.ID == theirs.ID {
			t.Errorf("b's live reservation was claimed by %s", r.Owner)
		}
		return true
	})
	if count != n {
		t.Fatalf("%d of a's %d reservations claimed", count, n)
	}
	// The claimers resolve them: the first account was made, the others
	// were not. Then a, come back late, cannot undo either.
	first, _ := claimed.Load(mine[0].ID)
	if err := b.ConfirmUse(ctx, first.(Reservation)); err != nil {
		t.Fatal(err)
	}
	for _, r := range mine[1:] {
		v, _ := claimed.Load(r.ID)
		if err := st[int(r.ID)%2].ReleaseUse(ctx, v.(Reservation)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.ConfirmUse(ctx, mine[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the dead owner's late confirm of a released use: %v, want ErrNotFound", err)
	}
	if err := a.ReleaseUse(ctx, mine[0]); err != nil {
		t.Fatal(err)
	}
	h, err := a.HeldUses(ctx, tok, "")
	if err != nil || h.Count != 1 {
		t.Fatalf("held after resolving = %+v, %v; want b's one", h, err)
	}
	got2, err := a.InviteByToken(ctx, tok)
	if err != nil || got2.Uses != 1 {
		t.Fatalf("uses after resolving = %d, %v; want 1 (the confirmed account; a's late release undid nothing)", got2.Uses, err)
	}
}

// TestGetInviteUnstorableText: a reference no record can hold (NUL, invalid
// UTF-8) is not found on both engines; PostgreSQL would refuse it as a
// parameter with an error.
func TestGetInviteUnstorableText(t *testing.T) {
	s, _, _ := openTest(t)
	for _, ref := range []string{"\x00\x00\x00\x00\x00\x00\x00\x00", "abc\xffdefg", strings.Repeat("\x00", TokenLen)} {
		if _, err := s.GetInvite(context.Background(), ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetInvite(%q) = %v, want ErrNotFound", ref, err)
		}
	}
}

package invites

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

// join redeems an invite of creator's for username and returns the new
// account's JID.
func join(t *testing.T, s *Service, acc Accounts, c Created, username string) string {
	t.Helper()
	red, err := s.Redeem(context.Background(), c.Token, Registration{Username: username, Password: "correct horse", Confirm: "correct horse"}, acc)
	if err != nil {
		t.Fatalf("redeem for %s: %v", username, err)
	}
	return red.JID
}

// refusedBy checks that err is a refusal by rule.
func refusedBy(t *testing.T, err error, rule string) *NotAllowedError {
	t.Helper()
	var na *NotAllowedError
	if !errors.As(err, &na) || na.Rule != rule || !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("err %v, want a refusal by %s", err, rule)
	}
	return na
}

// TestChainLimits covers max_invite_tree and min_account_age in CreateFor:
// accounts made through invites wait before they invite others who
// register, a full tree invites no more, plain contact invites and
// admins are never limited.
func TestChainLimits(t *testing.T) {
	ctx := context.Background()
	// One clock for the service and the store, which dates the accounts.
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	wait := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	st, err := keystore.Open(ctx, filepath.Join(t.TempDir(), "db"), keystore.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, Config{
		Domain: "example.com", PublicURL: "https://example.com/join/",
		DefaultTTL: 168 * time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: 24 * time.Hour, PasswordMinLength: 8,
		AllowUserInvites: true, MaxInviteTree: 3, MinAccountAge: time.Hour, Admins: []string{"boss@example.com"},
	}, clock)
	acc := &fakeAccounts{accounts: map[string]string{}}
	account := Request{Type: keystore.TypeAccount}
	contact := Request{Type: keystore.TypeContact}

	// alice was not made through us: no age, a tree of one.
	alice := Person{JID: "alice@example.com"}
	c, err := s.CreateFor(ctx, alice, account)
	if err != nil {
		t.Fatalf("alice's account invite: %v", err)
	}
	bob := Person{JID: join(t, s, acc, c, "bob")}

	// bob is new: no invite that registers yet, whatever its kind.
	for _, r := range []Request{account, contact} {
		_, err := s.CreateFor(ctx, bob, r)
		na := refusedBy(t, err, RuleTooNew)
		rec, _ := s.Store().Account(ctx, bob.JID)
		if na.Age != time.Hour || !na.Next.Equal(rec.Created.Add(time.Hour)) {
			t.Errorf("too new: age %s, next %s; want 1h, %s", na.Age, na.Next, rec.Created.Add(time.Hour))
		}
	}
	// A contact invite that does not register is never limited.
	s.cfg.AllowUserInvites = false
	if c, err := s.CreateFor(ctx, bob, contact); err != nil || c.Invite.AllowRegister {
		t.Fatalf("bob's plain contact invite: %+v, %v", c.Invite, err)
	}
	s.cfg.AllowUserInvites = true

	// An hour later bob may; his invitee carol fills the tree of 3.
	wait(time.Hour)
	c, err = s.CreateFor(ctx, bob, account)
	if err != nil {
		t.Fatalf("bob's account invite an hour later: %v", err)
	}
	carol := Person{JID: join(t, s, acc, c, "carol")}
	wait(2 * time.Hour)
	for _, p := range []Person{alice, bob, carol} {
		for _, r := range []Request{account, contact} {
			_, err := s.CreateFor(ctx, p, r)
			if na := refusedBy(t, err, RuleTreeFull); na.Limit != 3 {
				t.Errorf("tree full: limit %d, want 3", na.Limit)
			}
		}
	}
	s.cfg.AllowUserInvites = false
	if _, err := s.CreateFor(ctx, carol, contact); err != nil {
		t.Fatalf("carol's plain contact invite in a full tree: %v", err)
	}
	s.cfg.AllowUserInvites = true

	// An admin is exempt and starts a tree of its own.
	boss := Person{JID: "boss@example.com", Admin: true}
	c, err = s.CreateFor(ctx, boss, account)
	if err != nil {
		t.Fatalf("admin in a full tree: %v", err)
	}
	dave := Person{JID: join(t, s, acc, c, "dave")}
	if _, err := s.CreateFor(ctx, dave, account); err == nil {
		t.Fatal("dave, new: allowed")
	}
	wait(2 * time.Hour)
	if _, err := s.CreateFor(ctx, dave, account); err != nil {
		t.Fatalf("dave, in the admin's tree of 2: %v", err)
	}

	// 0 turns both limits off.
	s.cfg.MaxInviteTree, s.cfg.MinAccountAge = 0, 0
	c, err = s.CreateFor(ctx, carol, account)
	if err != nil {
		t.Fatalf("no limits: %v", err)
	}
	erin := Person{JID: join(t, s, acc, c, "erin")}
	if _, err := s.CreateFor(ctx, erin, account); err != nil {
		t.Fatalf("no limits, new account: %v", err)
	}
}

// watchingAccounts is a fakeAccounts that also tells watchers.
type watchingAccounts struct {
	*fakeAccounts
	mu   sync.Mutex
	told []string
	reg  []Registered
}

func (w *watchingAccounts) NotifyWatchers(ctx context.Context, watchers []string, n Registered) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.told = append(w.told, watchers...)
	w.reg = append(w.reg, n)
}

// TestRegistrationWatchers checks that the watchers hear of each account
// made through an invite, and not of password resets.
func TestRegistrationWatchers(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.cfg.RegistrationWatchers = []string{"w1@example.com", "w2@elsewhere.example"}
	acc := &watchingAccounts{fakeAccounts: &fakeAccounts{accounts: map[string]string{}}}
	c, err := s.Create(ctx, Request{Creator: "xmpp:alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	j := join(t, s, acc, c, "bob")
	if len(acc.reg) != 1 || len(acc.told) != 2 || acc.told[0] != "w1@example.com" || acc.told[1] != "w2@elsewhere.example" {
		t.Fatalf("watchers told %v of %+v, want both of one account", acc.told, acc.reg)
	}
	if r := acc.reg[0]; r.JID != j || r.InviteID != c.Invite.ID || r.Creator != "xmpp:alice@example.com" || r.At.Before(before) || r.At.Location() != time.UTC {
		t.Errorf("watchers told %+v, want %s through %s by xmpp:alice@example.com, now in UTC", r, j, c.Invite.ID)
	}
	reset, err := s.Create(ctx, Request{Creator: "cli", Type: keystore.TypeReset, Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	join(t, s, acc, reset, "")
	if len(acc.reg) != 1 {
		t.Errorf("a password reset told the watchers: %+v", acc.reg)
	}
}

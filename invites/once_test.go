package invites

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

// flakyServer is an XMPP server whose answers the test scripts: it may
// carry out a request and then lose the answer, or be unable to say
// whether an account exists.
type flakyServer struct {
	mu        sync.Mutex
	accounts  map[string]string
	lose      bool  // create/change, then answer as if the link dropped
	skip      bool  // with lose: do not carry the request out either
	existsErr error // AccountExists fails with this
	lostErr   error // after a lost answer, existsErr becomes this
	creates   int
	changes   int
}

func (f *flakyServer) CreateAccount(ctx context.Context, u, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.accounts[u]; ok {
		return ErrUsernameTaken
	}
	if !f.skip {
		f.accounts[u] = p
		f.creates++
	}
	if f.lose {
		f.existsErr = f.lostErr
		return errors.Join(ErrLinkDown, context.Canceled)
	}
	return nil
}

func (f *flakyServer) ChangePassword(ctx context.Context, u, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.skip {
		f.accounts[u] = p
		f.changes++
	}
	if f.lose {
		return context.DeadlineExceeded
	}
	return nil
}

func (f *flakyServer) AccountExists(ctx context.Context, u string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.existsErr != nil {
		return false, f.existsErr
	}
	_, ok := f.accounts[u]
	return ok, nil
}

func (f *flakyServer) set(fn func(f *flakyServer)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// onceServices returns two services on one database, each with its own
// store handle, as two instances (or one instance before and after a
// restart) would be; on PostgreSQL under TestPostgres.
func onceServices(t *testing.T, timing RedeemTiming) (*Service, *Service) {
	t.Helper()
	path := testDatabase(t)
	var out []*Service
	for range 2 {
		st, err := keystore.Open(context.Background(), path, keystore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		out = append(out, New(st, Config{
			Domain: "example.com", PublicURL: "https://example.com",
			DefaultTTL: time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: time.Hour,
			PasswordMinLength: 8, Timing: timing,
		}, nil))
	}
	return out[0], out[1]
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func reg(user string) Registration {
	return Registration{Username: user, Password: "correct horse", Confirm: "correct horse"}
}

func inviteUses(t *testing.T, s *Service, id string) int {
	t.Helper()
	inv, err := s.Store().GetInvite(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Uses
}

func TestUnknownOutcomeResolvedByOwner(t *testing.T) {
	ctx := context.Background()
	for _, created := range []bool{true, false} {
		s, _ := onceServices(t, RedeemTiming{ResolveEvery: time.Hour})
		srv := &flakyServer{accounts: map[string]string{}}
		c, err := s.Create(ctx, Request{Creator: "cli"})
		if err != nil {
			t.Fatal(err)
		}
		// The link drops after add-user, and the server cannot be asked.
		srv.set(func(f *flakyServer) { f.lose, f.skip, f.lostErr = true, !created, ErrLinkDown })
		_, err = s.Redeem(ctx, c.Token, reg("alice"), srv)
		var ue *UnknownError
		if !errors.As(err, &ue) || ue.Reset || ue.Wait <= 0 {
			t.Fatalf("created=%v: Redeem = %v, want an *UnknownError with a wait", created, err)
		}
		// The same person again: still unknown, nothing sent to the server.
		before := srv.creates
		if _, err := s.Redeem(ctx, c.Token, reg("alice"), srv); !errors.Is(err, ErrOutcomeUnknown) || srv.creates != before {
			t.Fatalf("created=%v: second attempt = %v (creates %d → %d), want ErrOutcomeUnknown and no new request", created, err, before, srv.creates)
		}
		// Someone else: the only use is held.
		var he *HeldError
		if _, err := s.Redeem(ctx, c.Token, reg("bob"), srv); !errors.As(err, &he) || !errors.Is(err, keystore.ErrInUse) {
			t.Fatalf("created=%v: other person = %v, want a *HeldError", created, err)
		}
		if held, wait, err := s.Held(ctx, c.Token); err != nil || !held || wait <= 0 {
			t.Fatalf("created=%v: Held = %v, %v, %v", created, held, wait, err)
		}
		// While the server cannot say, a round leaves everything as it is.
		s.resolveRound(ctx, srv, quiet)
		if n := inviteUses(t, s, c.Invite.ID); n != 0 {
			t.Fatalf("created=%v: uses %d after a round without an answer, want 0", created, n)
		}
		srv.set(func(f *flakyServer) { f.lose, f.skip, f.existsErr, f.lostErr = false, false, nil, nil })
		s.resolveRound(ctx, srv, quiet)
		if created {
			if n := inviteUses(t, s, c.Invite.ID); n != 1 {
				t.Fatalf("account created: uses %d after resolving, want 1", n)
			}
			if _, err := s.Redeem(ctx, c.Token, reg("bob"), srv); !errors.Is(err, keystore.ErrUsedUp) {
				t.Fatalf("after resolving: %v, want ErrUsedUp", err)
			}
			continue
		}
		if n := inviteUses(t, s, c.Invite.ID); n != 0 {
			t.Fatalf("nothing created: uses %d after resolving, want 0", n)
		}
		if _, err := s.Redeem(ctx, c.Token, reg("alice"), srv); err != nil {
			t.Fatalf("nothing created: a new attempt after resolving: %v", err)
		}
		if srv.creates != 1 || inviteUses(t, s, c.Invite.ID) != 1 {
			t.Fatalf("creates %d, uses %d; want exactly one of each", srv.creates, inviteUses(t, s, c.Invite.ID))
		}
	}
}

func TestUnknownOutcomeAnsweredAtOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := onceServices(t, RedeemTiming{})
	srv := &flakyServer{accounts: map[string]string{}, lose: true}
	c, _ := s.Create(ctx, Request{Creator: "cli"})
	// The answer is lost but the server can be asked at once: it says yes.
	red, err := s.Redeem(ctx, c.Token, reg("alice"), srv)
	if err != nil || red.JID != "alice@example.com" || inviteUses(t, s, c.Invite.ID) != 1 {
		t.Fatalf("Redeem = %+v, %v, uses %d; want success and one use", red, err, inviteUses(t, s, c.Invite.ID))
	}
	// It says no: released at once, and the person is told nothing was made.
	c2, _ := s.Create(ctx, Request{Creator: "cli"})
	srv.set(func(f *flakyServer) { f.skip = true })
	if _, err := s.Redeem(ctx, c2.Token, reg("bob"), srv); !errors.Is(err, ErrLinkDown) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("not created: %v, want ErrLinkDown", err)
	}
	if h, _, _ := s.Held(ctx, c2.Token); h || inviteUses(t, s, c2.Invite.ID) != 0 {
		t.Fatalf("not created: held %v uses %d, want the use free again", h, inviteUses(t, s, c2.Invite.ID))
	}
}

func TestNameCheckedBeforeReserving(t *testing.T) {
	ctx := context.Background()
	s, _ := onceServices(t, RedeemTiming{})
	srv := &flakyServer{accounts: map[string]string{"taken": "x"}}
	c, _ := s.Create(ctx, Request{Creator: "cli"})
	if _, err := s.Redeem(ctx, c.Token, reg("Taken"), srv); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("taken name: %v, want ErrUsernameTaken", err)
	}
	// The server cannot be asked: nothing is reserved or sent.
	srv.set(func(f *flakyServer) { f.existsErr = ErrLinkDown })
	if _, err := s.Redeem(ctx, c.Token, reg("alice"), srv); !errors.Is(err, ErrLinkDown) || srv.creates != 0 {
		t.Fatalf("unknown name: %v, creates %d; want ErrLinkDown and nothing sent", err, srv.creates)
	}
	if h, _, _ := s.Held(ctx, c.Token); h {
		t.Fatal("a use is held after a check that failed")
	}
	// A reset for an account that is not there.
	r, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "ghost", Creator: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	srv.set(func(f *flakyServer) { f.existsErr = nil })
	if _, err := s.Redeem(ctx, r.Token, Registration{Password: "correct horse", Confirm: "correct horse"}, srv); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("reset of a missing account: %v, want ErrNoAccount", err)
	}
}

func TestUnknownResetIsConsumed(t *testing.T) {
	ctx := context.Background()
	s, _ := onceServices(t, RedeemTiming{})
	srv := &flakyServer{accounts: map[string]string{"carol": "old password"}, lose: true}
	r, _ := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "carol", Creator: "cli"})
	_, err := s.Redeem(ctx, r.Token, Registration{Password: "new password", Confirm: "new password"}, srv)
	var ue *UnknownError
	if !errors.As(err, &ue) || !ue.Reset {
		t.Fatalf("reset with a lost answer: %v, want an *UnknownError for a reset", err)
	}
	if n := inviteUses(t, s, r.Invite.ID); n != 1 {
		t.Fatalf("uses %d, want 1: a reset whose outcome is unknown is consumed", n)
	}
	srv.set(func(f *flakyServer) { f.lose = false })
	if _, err := s.Redeem(ctx, r.Token, Registration{Password: "third password", Confirm: "third password"}, srv); !errors.Is(err, keystore.ErrUsedUp) || srv.changes != 1 {
		t.Fatalf("second reset: %v, changes %d; want ErrUsedUp and one change only", err, srv.changes)
	}
}

func TestStoppedOwnersReservationsAreClaimed(t *testing.T) {
	ctx := context.Background()
	timing := RedeemTiming{Lease: time.Second, ResolveEvery: time.Hour}
	first, second := onceServices(t, timing)
	srv := &flakyServer{accounts: map[string]string{}, lose: true, lostErr: ErrLinkDown}
	c, _ := first.Create(ctx, Request{Creator: "cli", Uses: 2})
	if _, err := first.Redeem(ctx, c.Token, reg("alice"), srv); !errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("Redeem = %v, want ErrOutcomeUnknown", err)
	}
	// The first instance stops (its resolver never runs). The second does
	// not touch the reservation while the lease runs.
	srv.set(func(f *flakyServer) { f.lose, f.existsErr, f.lostErr = false, nil, nil })
	second.resolveRound(ctx, srv, quiet)
	if h, _, _ := second.Held(ctx, c.Token); inviteUses(t, second, c.Invite.ID) != 0 || h {
		t.Fatalf("uses %d held %v: resolved before the lease ran out", inviteUses(t, second, c.Invite.ID), h)
	}
	time.Sleep(2100 * time.Millisecond) // leases are in whole seconds
	second.resolveRound(ctx, srv, quiet)
	if n := inviteUses(t, second, c.Invite.ID); n != 1 {
		t.Fatalf("uses %d after the lease ran out, want 1 (the account exists)", n)
	}
	if srv.creates != 1 {
		t.Fatalf("%d accounts created, want 1", srv.creates)
	}
}

func TestPasswordRules(t *testing.T) {
	s, _ := onceServices(t, RedeemTiming{})
	inv := keystore.Invite{Type: keystore.TypeAccount, AllowRegister: true}
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{strings.Repeat("p", MaxPasswordLen), true},
		{strings.Repeat("p", MaxPasswordLen+1), false},
		{"correct\thorse", false},
		{"correct horse\n", false},
		{"correct\u0085horse", false},
		{"correct\x7fhorse", false},
		{"correct hörse ✓", true},
	} {
		_, err := s.Check(inv, Registration{Username: "alice", Password: tc.pw, Confirm: tc.pw})
		var ve *ValidationError
		if tc.ok != (err == nil) || (err != nil && (!errors.As(err, &ve) || ve.Field != "password")) {
			t.Errorf("password %q (%d bytes): %v, want ok=%v", tc.pw[:min(len(tc.pw), 20)], len(tc.pw), err, tc.ok)
		}
	}
}

func TestResetRules(t *testing.T) {
	ctx := context.Background()
	s, _ := onceServices(t, RedeemTiming{})
	s.cfg.Admins = []string{"root@example.com"}
	srv := &flakyServer{accounts: map[string]string{"root": "x", "carol": "y"}}
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "Root", Creator: "xmpp:boss@example.com", Accounts: srv}); !errors.Is(err, ErrProtected) {
		t.Fatalf("reset of an admin: %v, want ErrProtected", err)
	}
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "ＰｏｓｔＭａｓｔｅｒ", Creator: "xmpp:boss@example.com", Accounts: srv}); !errors.Is(err, ErrProtected) {
		t.Fatalf("reset of a reserved name: %v, want ErrProtected", err)
	}
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "root", Creator: "cli", AllowAdmin: true}); err != nil {
		t.Fatalf("reset of an admin with AllowAdmin: %v", err)
	}
	var ve *ValidationError
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "ghost", Creator: "xmpp:boss@example.com", Accounts: srv}); !errors.As(err, &ve) || ve.Field != "username" {
		t.Fatalf("reset of a missing account: %v, want a username error", err)
	}
	// The server cannot say: the invite is made (redemption checks again).
	srv.set(func(f *flakyServer) { f.existsErr = ErrLinkDown })
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "ghost", Creator: "xmpp:boss@example.com", Accounts: srv}); err != nil {
		t.Fatalf("reset while the server cannot say: %v", err)
	}
	srv.set(func(f *flakyServer) { f.existsErr = nil })
	if _, err := s.Create(ctx, Request{Type: keystore.TypeReset, Username: "carol", Creator: "xmpp:boss@example.com", Accounts: srv}); err != nil {
		t.Fatalf("reset of an existing account: %v", err)
	}
}

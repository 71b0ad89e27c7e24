package invites

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"xmpp-invites/keystore"
)

func newService(t *testing.T) *Service {
	t.Helper()
	st, err := keystore.Open(context.Background(), filepath.Join(t.TempDir(), "db"), keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, Config{
		Domain: "example.com", PublicURL: "https://example.com/join/",
		DefaultTTL: 168 * time.Hour, MaxTTL: 720 * time.Hour, ResetTTL: 24 * time.Hour,
		PasswordMinLength: 8,
	}, nil)
}

func TestCreateValidation(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		req   Request
		field string
	}{
		{"unknown type", Request{Type: "party"}, "type"},
		{"uses zero after default", Request{Uses: -1}, "uses"},
		{"uses too many", Request{Uses: 1001}, "uses"},
		{"ttl above max", Request{TTL: 721 * time.Hour}, "ttl"},
		{"ttl below a second", Request{TTL: time.Millisecond}, "ttl"},
		{"reset without username", Request{Type: keystore.TypeReset}, "username"},
		{"reset with uses", Request{Type: keystore.TypeReset, Username: "a", Uses: 2}, "uses"},
		{"contact without username", Request{Type: keystore.TypeContact}, "username"},
		{"bad username", Request{Username: "a b@c"}, "username"},
		{"fixed username with uses", Request{Username: "bob", Uses: 3}, "uses"},
		{"note with newline", Request{Note: "a\nb"}, "note"},
		{"note too long", Request{Note: strings.Repeat("x", MaxNoteLen+1)}, "note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Creator = "cli"
			_, err := s.Create(ctx, tc.req)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("err = %v, want a ValidationError on %q", err, tc.field)
			}
		})
	}
	if list, _ := s.Store().ListInvites(ctx, keystore.ListOptions{All: true}); len(list) != 0 {
		t.Fatalf("refused requests stored %d invites", len(list))
	}
}

func TestCreateURIs(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		req  Request
		want string // with TOKEN for the token
		ttl  time.Duration
	}{
		{Request{}, "xmpp:example.com?register;preauth=TOKEN", 168 * time.Hour},
		{Request{Username: "Alice"}, "xmpp:alice@example.com?register;preauth=TOKEN", 168 * time.Hour},
		{Request{Type: keystore.TypeReset, Username: "bob"}, "xmpp:bob@example.com?register;preauth=TOKEN", 24 * time.Hour},
		{Request{Type: keystore.TypeContact, Username: "carol"}, "xmpp:carol@example.com?roster;preauth=TOKEN", 168 * time.Hour},
		{Request{Type: keystore.TypeContact, Username: "carol", AllowRegister: true, TTL: time.Hour}, "xmpp:carol@example.com?roster;preauth=TOKEN;ibr=y", time.Hour},
	} {
		tc.req.Creator = "cli"
		before := time.Now()
		c, err := s.Create(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Replace(tc.want, "TOKEN", c.Token, 1); c.URI != want {
			t.Errorf("URI = %q, want %q", c.URI, want)
		}
		if c.LandingURL != "https://example.com/join/invite?"+c.Token {
			t.Errorf("LandingURL = %q", c.LandingURL)
		}
		if d := c.Invite.Expires.Sub(before); d < tc.ttl-2*time.Second || d > tc.ttl+time.Second {
			t.Errorf("%v: expires in %s, want %s", tc.req, d, tc.ttl)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"3600": time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute} {
		if d, err := ParseTTL(in); err != nil || d != want {
			t.Errorf("ParseTTL(%q) = %s, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "0", "-5", "-1h", "soon", "99999999999999999999", "1e3", " 5"} {
		if _, err := ParseTTL(in); err == nil {
			t.Errorf("ParseTTL(%q) accepted", in)
		}
	}
}

func TestPrepareUsername(t *testing.T) {
	for in, want := range map[string]string{"Alice": "alice", "ÉLODIE": "élodie", "bob.smith": "bob.smith"} {
		if got, err := PrepareUsername(in); err != nil || got != want {
			t.Errorf("PrepareUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "a b", "a@b", "a/b", "a:b", strings.Repeat("x", 65), "\x00", "<x>"} {
		if got, err := PrepareUsername(in); err == nil {
			t.Errorf("PrepareUsername(%q) = %q, want an error", in, got)
		}
	}
}

// fakeAccounts stands in for the XMPP server.
type fakeAccounts struct {
	mu       sync.Mutex
	accounts map[string]string
	err      error         // returned by the next operations
	delay    time.Duration // before answering
	created  int
	notified []string
}

func (f *fakeAccounts) CreateAccount(ctx context.Context, u, p string) error {
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			f.mu.Lock()
			f.accounts[u] = p // the server finished after we gave up
			f.mu.Unlock()
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.accounts[u]; ok {
		return ErrUsernameTaken
	}
	f.accounts[u] = p
	f.created++
	return nil
}

func (f *fakeAccounts) ChangePassword(ctx context.Context, u, p string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.accounts[u] = p
	return nil
}

func (f *fakeAccounts) AccountExists(ctx context.Context, u string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.accounts[u]
	return ok, nil
}

func (f *fakeAccounts) AddMutualContacts(ctx context.Context, a, b string) error {
	return ErrUnsupported
}
func (f *fakeAccounts) NotifyJoined(ctx context.Context, to, account string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notified = append(f.notified, to+": "+account)
	return nil
}

func TestRedeem(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	acc := &fakeAccounts{accounts: map[string]string{"taken": "x"}}
	c, err := s.Create(ctx, Request{Creator: "xmpp:admin@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	reg := Registration{Username: "taken", Password: "correct horse", Confirm: "correct horse"}
	if _, err := s.Redeem(ctx, c.Token, reg, acc); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("taken: %v", err)
	}
	for _, bad := range []Registration{
		{Username: "Alice", Password: "short", Confirm: "short"},
		{Username: "Alice", Password: "xxaliceyy", Confirm: "xxaliceyy"},
		{Username: "Alice", Password: "correct horse", Confirm: "correct horsf"},
		{Username: "a b", Password: "correct horse", Confirm: "correct horse"},
	} {
		var ve *ValidationError
		if _, err := s.Redeem(ctx, c.Token, bad, acc); !errors.As(err, &ve) {
			t.Errorf("%+v: err = %v, want ValidationError", bad, err)
		}
	}
	acc.err = ErrLinkDown
	if _, err := s.Redeem(ctx, c.Token, Registration{Username: "Alice", Password: "correct horse", Confirm: "correct horse"}, acc); !errors.Is(err, ErrLinkDown) {
		t.Fatalf("link down: %v", err)
	}
	acc.err = nil
	red, err := s.Redeem(ctx, c.Token, Registration{Username: "Alice", Password: "correct horse", Confirm: "correct horse"}, acc)
	if err != nil || red.JID != "alice@example.com" {
		t.Fatalf("Redeem = %+v, %v", red, err)
	}
	if _, err := s.Redeem(ctx, c.Token, Registration{Username: "bob", Password: "correct horse", Confirm: "correct horse"}, acc); !errors.Is(err, keystore.ErrUsedUp) {
		t.Fatalf("second use: %v, want ErrUsedUp", err)
	}
	if len(acc.notified) != 1 || acc.notified[0] != "admin@example.com: alice@example.com" {
		t.Fatalf("notifications %q", acc.notified)
	}
	uses, _ := s.Store().Uses(ctx, c.Invite.ID)
	if len(uses) != 1 || uses[0].JID != "alice@example.com" {
		t.Fatalf("uses = %+v", uses)
	}
}

func TestRedeemTimeoutAsksServer(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	c, _ := s.Create(ctx, Request{Creator: "cli"})
	// The server creates the account but answers too late: the use counts.
	acc := &fakeAccounts{accounts: map[string]string{}, delay: time.Hour}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := s.Redeem(cctx, c.Token, Registration{Username: "late", Password: "correct horse", Confirm: "correct horse"}, acc)
	if err != nil {
		t.Fatalf("late but created: %v, want success after asking the server", err)
	}
	inv, _ := s.Store().GetInvite(ctx, c.Invite.ID)
	if inv.Uses != 1 {
		t.Fatalf("uses = %d, want 1", inv.Uses)
	}
}

func TestRedeemContactWithoutRegistration(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	c, _ := s.Create(ctx, Request{Type: keystore.TypeContact, Username: "carol", Creator: "xmpp:carol@example.com"})
	acc := &fakeAccounts{accounts: map[string]string{}}
	_, err := s.Redeem(ctx, c.Token, Registration{Username: "dave", Password: "correct horse", Confirm: "correct horse"}, acc)
	if !errors.Is(err, ErrNoRegistration) || acc.created != 0 {
		t.Fatalf("err = %v, created %d; want ErrNoRegistration and nothing created", err, acc.created)
	}
}

func TestRedeemRaceExactlyOnce(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	c, _ := s.Create(ctx, Request{Creator: "cli"})
	acc := &fakeAccounts{accounts: map[string]string{}, delay: 5 * time.Millisecond}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := "user" + string(rune('a'+i))
			_, err := s.Redeem(ctx, c.Token, Registration{Username: u, Password: "correct horse", Confirm: "correct horse"}, acc)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 || acc.created != 1 {
		t.Fatalf("%d redemptions succeeded and %d accounts created, want exactly 1", wins, acc.created)
	}
}

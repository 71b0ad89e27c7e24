package invites

import (
	"context"
	"errors"
	"testing"

	"xmpp-invites/keystore"
)

// TestCreateFor covers a person's rights, the one place they are decided
// for chats, ad-hoc commands and the portal.
func TestCreateFor(t *testing.T) {
	ctx := context.Background()
	alice := Person{JID: "alice@example.com"}
	admin := Person{JID: "boss@example.com", Admin: true}
	outsider := Person{JID: "ops@elsewhere.example", Admin: true}
	for _, tc := range []struct {
		name          string
		users, perDay int // allow_user_invites (1), user_invites_per_day
		p             Person
		r             Request
		rule          string // refused with this rule
		username      string
		allowRegister bool
		limit         int
	}{
		{name: "user contact", p: alice, r: Request{Type: keystore.TypeContact}, username: "alice", perDay: 3, limit: 3},
		{name: "user contact cannot name another", p: alice, r: Request{Type: keystore.TypeContact, Username: "bob"}, username: "alice"},
		{name: "user contact registers where users may invite", users: 1, p: alice, r: Request{Type: keystore.TypeContact}, username: "alice", allowRegister: true},
		{name: "user account refused", p: alice, r: Request{Type: keystore.TypeAccount}, rule: RuleUserInvites},
		{name: "user account where allowed", users: 1, p: alice, r: Request{Type: keystore.TypeAccount}, allowRegister: true, perDay: 2, limit: 2},
		{name: "user fixed username refused", users: 1, p: alice, r: Request{Type: keystore.TypeAccount, Username: "carol"}, rule: RuleAdminOnly},
		{name: "user reset refused", p: alice, r: Request{Type: keystore.TypeReset, Username: "alice"}, rule: RuleAdminOnly},
		{name: "admin contact registers, unlimited", perDay: 3, p: admin, r: Request{Type: keystore.TypeContact}, username: "boss", allowRegister: true},
		{name: "admin contact for a user", p: admin, r: Request{Type: keystore.TypeContact, Username: "alice"}, username: "alice", allowRegister: true},
		{name: "admin account", p: admin, r: Request{Type: keystore.TypeAccount, Username: "carol"}, username: "carol", allowRegister: true},
		{name: "admin of another domain: no own contact", p: outsider, r: Request{Type: keystore.TypeContact}, rule: RuleOtherDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(t)
			s.cfg.AllowUserInvites, s.cfg.UserInvitesPerDay = tc.users == 1, tc.perDay
			c, err := s.CreateFor(ctx, tc.p, tc.r)
			if tc.rule != "" {
				var na *NotAllowedError
				if !errors.As(err, &na) || na.Rule != tc.rule || !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("err %v, want the rule %s", err, tc.rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			inv := c.Invite
			if inv.Creator != "xmpp:"+tc.p.JID || inv.Username != tc.username || inv.AllowRegister != tc.allowRegister {
				t.Errorf("invite %+v: want creator xmpp:%s, username %q, allow register %v", inv, tc.p.JID, tc.username, tc.allowRegister)
			}
			// The daily limit holds for people who are not admins.
			for i := 1; i < tc.limit; i++ {
				if _, err := s.CreateFor(ctx, tc.p, tc.r); err != nil {
					t.Fatalf("invite %d of %d: %v", i+1, tc.limit, err)
				}
			}
			_, err = s.CreateFor(ctx, tc.p, tc.r)
			if tc.limit > 0 && (!errors.Is(err, ErrQuota) || QuotaNext(err).IsZero()) {
				t.Errorf("over the limit of %d: %v, want ErrQuota with a time", tc.limit, err)
			}
			if tc.limit == 0 && err != nil && tc.r.Username == "" {
				t.Errorf("unlimited: %v", err)
			}
		})
	}
}

// TestAdminActionsAudited: what admins do as themselves (in a chat, an
// ad-hoc command or the portal) is in the audit log; people's own
// invites are not admin actions.
func TestAdminActionsAudited(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	admin := Person{JID: "boss@example.com", Admin: true}
	if _, err := s.CreateFor(ctx, Person{JID: "alice@example.com"}, Request{Type: keystore.TypeContact}); err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateFor(ctx, admin, Request{Type: keystore.TypeAccount, Uses: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RevokeFor(ctx, admin, c.Invite.ID); err != nil {
		t.Fatal(err)
	}
	log, err := s.store.AuditLog(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Action != "invite.revoke" || log[1].Action != "invite.create" ||
		log[1].Actor != admin.JID || log[1].Target != c.Invite.ID || log[1].Detail == "" {
		t.Errorf("audit log %+v, want the admin's create and revoke only", log)
	}
}

package invites

import (
	"context"
	"errors"
	"testing"

	"xmpp-invites/keystore"
)

// TestListFor: people see their own invites, admins everyone's.
func TestListFor(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	alice := Person{JID: "alice@example.com"}
	bob := Person{JID: "bob@example.com"}
	admin := Person{JID: "boss@example.com", Admin: true}
	mine, err := s.CreateFor(ctx, alice, Request{Type: keystore.TypeContact})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := s.CreateFor(ctx, bob, Request{Type: keystore.TypeContact})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(invs []keystore.Invite) (out []string) {
		for _, inv := range invs {
			out = append(out, inv.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		p    Person
		o    keystore.ListOptions
		want []string
	}{
		{"own", alice, keystore.ListOptions{}, []string{mine.Invite.ID}},
		{"another creator asked for is ignored", alice, keystore.ListOptions{Creator: "xmpp:bob@example.com"}, []string{mine.Invite.ID}},
		{"admin sees all", admin, keystore.ListOptions{}, []string{mine.Invite.ID, theirs.Invite.ID}},
		{"admin filters by creator", admin, keystore.ListOptions{Creator: "xmpp:bob@example.com"}, []string{theirs.Invite.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListFor(ctx, tc.p, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); len(g) != len(tc.want) || (len(g) > 0 && (g[0] != tc.want[0] || g[len(g)-1] != tc.want[len(tc.want)-1])) {
				t.Errorf("listed %q, want %q", g, tc.want)
			}
		})
	}
}

// TestRevokeFor: people revoke their own invites only; someone else's is
// not found to them; admins revoke any.
func TestRevokeFor(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	alice := Person{JID: "alice@example.com"}
	bob := Person{JID: "bob@example.com"}
	admin := Person{JID: "boss@example.com", Admin: true}
	create := func(p Person) Created {
		c, err := s.CreateFor(ctx, p, Request{Type: keystore.TypeContact})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := create(alice), create(bob)
	if _, err := s.RevokeFor(ctx, alice, b.Invite.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("alice revokes bob's invite: %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeFor(ctx, alice, a.Token); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("revoke by token: %v, want ErrNotFound", err)
	}
	if _, err := s.RevokeFor(ctx, alice, "zzzzzzzz"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("revoke an unknown ID: %v, want ErrNotFound", err)
	}
	if inv, err := s.RevokeFor(ctx, alice, a.Invite.ID); err != nil || inv.Revoked.IsZero() {
		t.Fatalf("alice revokes her invite: %+v, %v", inv, err)
	}
	if _, err := s.RevokeFor(ctx, alice, a.Invite.ID); !errors.Is(err, keystore.ErrRevoked) {
		t.Errorf("revoke twice: %v, want ErrRevoked", err)
	}
	if inv, err := s.RevokeFor(ctx, admin, b.Invite.ID); err != nil || inv.Revoked.IsZero() {
		t.Errorf("admin revokes bob's invite: %+v, %v", inv, err)
	}
	if got, _ := s.store.GetInvite(ctx, b.Invite.ID); got.Revoked.IsZero() {
		t.Error("bob's invite is not revoked in the store")
	}
}

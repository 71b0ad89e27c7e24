package invites

import (
	"context"
	"fmt"

	"xmpp-invites/keystore"
)

// ListFor and RevokeFor are the list and revoke rules for people (chats,
// ad-hoc commands): like CreateFor, the one place that decides them.

// ListFor lists invites as p may see them: admins every invite that o
// selects, everyone else only their own (o.Creator is set to theirs,
// "xmpp:" + p.JID, whatever it was).
func (s *Service) ListFor(ctx context.Context, p Person, o keystore.ListOptions) ([]keystore.Invite, error) {
	if !p.Admin {
		o.Creator = "xmpp:" + p.JID
	}
	return s.store.ListInvites(ctx, o)
}

// RevokeFor revokes the invite with the public ID id for p: their own, or
// any for admins. An invite of someone else's is keystore.ErrNotFound for
// people who are not admins, as is a reference that is not an invite ID
// (tokens are not accepted here: they would reach invites p may not see).
// An invite that can no longer be used is keystore.ErrRevoked, ErrUsedUp
// or ErrExpired, as keystore.Store.RevokeInvite says.
func (s *Service) RevokeFor(ctx context.Context, p Person, id string) (keystore.Invite, error) {
	if len(id) != keystore.InviteIDLen {
		return keystore.Invite{}, fmt.Errorf("invite: %w", keystore.ErrNotFound)
	}
	inv, err := s.store.GetInvite(ctx, id)
	if err != nil {
		return keystore.Invite{}, err
	}
	if !p.Admin && inv.Creator != "xmpp:"+p.JID {
		return keystore.Invite{}, fmt.Errorf("invite: %w", keystore.ErrNotFound)
	}
	revoked, err := s.store.RevokeInvite(ctx, inv.ID)
	if err == nil && p.Admin {
		s.audit(ctx, p, "invite.revoke", inv.ID, string(inv.Type))
	}
	return revoked, err
}
